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

import typer

from .commands import register
from .guard import BAD_INPUT, DRIFT, INTERNAL, OK

__all__ = ["BAD_INPUT", "DRIFT", "INTERNAL", "OK", "app", "main"]

app = typer.Typer(name="divergences", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="Compare datasets column by column with honest uncertainty (PSI, JS, Hellinger, ...). "
                       "Exit status: 0 done, 1 drift with --fail-on-drift, 2 bad usage or input, 3 internal error.")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("divergences")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            v = "unknown"
        typer.echo(f"divergences {v}")
        raise typer.Exit(OK)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Compare datasets column by column with honest uncertainty."""


register(app)


def main() -> None:
    """Entry point of the ``divergences`` console script."""
    app()
