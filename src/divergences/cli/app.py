"""The Typer application of the ``divergences`` command (imports Typer and Rich)."""

from __future__ import annotations

import typer

from .commands import register
from .statuses import OK

__all__ = ["app"]

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
