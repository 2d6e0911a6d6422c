"""Exit statuses and error messages of the ``divergences`` command.

* 0: done (drift or not, unless ``--fail-on-drift``);
* 1: drift found with ``--fail-on-drift``;
* 2: bad usage or bad input: the message names the file and the column, nothing is written;
* 3: internal error: one line and a hint, the traceback only with ``--debug``;
* 130: interrupted (Ctrl-C); 141: standard output closed by its reader (``| head``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from .statuses import BAD_INPUT, BROKEN_PIPE, DRIFT, INTERNAL, INTERRUPTED, OK
from .text import visible

__all__ = ["BAD_INPUT", "DRIFT", "INTERNAL", "OK", "err", "fail", "guarded", "out"]


class _Console(Console):
    """A Rich console whose closed pipe (``| head``) ends the command with status 141, quietly."""

    def on_broken_pipe(self) -> None:
        _quiet_stdout()
        raise typer.Exit(BROKEN_PIPE)


def _quiet_stdout() -> None:
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


out = _Console(soft_wrap=False)
err = _Console(stderr=True)


def fail(message: str, status: int = BAD_INPUT) -> None:
    """Print ``error: message`` (as plain text, control characters made visible) and exit."""
    err.print(Text.assemble(("error: ", "bold red"), visible(message, keep_newlines=True)), highlight=False,
              soft_wrap=True)
    raise typer.Exit(status)


def _debug_requested(kwargs: dict[str, Any]) -> bool:
    return bool(kwargs.get("debug")) or os.environ.get("DIVERGENCES_DEBUG", "") not in ("", "0")


@contextlib.contextmanager
def _statuses(debug: bool) -> Iterator[None]:
    from ..tabular import InputError
    from ..tabular.extras import MissingExtra

    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except KeyboardInterrupt:
        err.print("interrupted", highlight=False)
        raise typer.Exit(INTERRUPTED) from None
    except BrokenPipeError:  # `divergences compare ... | head`: the reader left; stop quietly, as cat does
        _quiet_stdout()
        raise typer.Exit(BROKEN_PIPE) from None
    except InputError as exc:
        if debug:
            traceback.print_exc()
        fail(str(exc))
    except MissingExtra as exc:  # an optional dependency is not installed: the message names the extra
        fail(str(exc))
    except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        if debug:
            traceback.print_exc()
        fail(_describe(exc))
    except Exception as exc:  # an internal error: one line and a hint, no traceback unless --debug
        if debug:
            traceback.print_exc()
        where = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
        fail(f"internal error ({where}). Rerun with --debug for the traceback, and please report it.", INTERNAL)


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


def guarded(fn: Callable) -> Callable:
    """Run a command body under the exit-status rules above (``debug`` keyword: print tracebacks)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _statuses(_debug_requested(kwargs)):
            try:
                return fn(*args, **kwargs)
            finally:
                sys.stdout.flush()  # a closed pipe shows here, under the rules above, not in Click's exit

    return wrapper
