"""The ``divergences`` command: compare tables from the shell (Typer + Rich).

* ``divergences compare REFERENCE CURRENT``: bins the reference (or reads a saved profile, a
  ``.json`` file), compares the current table column by column, prints the dataset verdict and a
  summary (``--format auto|table|compact|markdown|json``), and writes ``--html`` / ``--json``
  reports atomically (``--json -``: JSON on standard output).
* ``divergences profile REFERENCE -o ref.json``: the reference's bins, for later comparisons.
* ``divergences monitor REFERENCE CURRENT --by date --every 1w``: every time window of the current
  table compared with the reference.
* ``divergences demo``: the comparison on the dataset shipped with the package.

Exit status: 0 done; 1 drift found with ``--fail-on-drift`` (or dataset drift with
``--fail-on-dataset-drift``); 2 bad usage or bad input (the message names the file and the column;
nothing is written); 3 internal error (one line and a hint; ``--debug`` prints the traceback).
"""

from __future__ import annotations

import sys
from typing import Any

from .statuses import BAD_INPUT, DRIFT, INTERNAL, OK

__all__ = ["BAD_INPUT", "DRIFT", "INTERNAL", "OK", "app", "main"]

#: the extra that installs what the command needs (Typer, Rich, DuckDB, ...)
_EXTRA_MESSAGE = ("error: the divergences command needs the 'tabular' extra ({missing} is not installed): "
                  "pip install 'divergences[tabular]'\n")

app: Any
try:
    from .app import app
except ModuleNotFoundError as _exc:  # a core-only install: say which extra to install, not a traceback
    if (_exc.name or "").split(".")[0] not in ("typer", "rich", "click"):
        raise
    app = None
    _MISSING = (_exc.name or "").split(".")[0]


def main() -> None:
    """Entry point of the ``divergences`` console script."""
    if app is None:
        sys.stderr.write(_EXTRA_MESSAGE.format(missing=_MISSING))
        raise SystemExit(BAD_INPUT)
    app()
