"""``python -m divergences.cli``: the ``divergences`` command."""

from . import main

main()
