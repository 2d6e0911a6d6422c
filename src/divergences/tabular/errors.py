"""The one error type of the tabular layer: bad input, named by source and column."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input to a comparison: a missing or unreadable file, an unknown column, a type clash,
    an empty table, an all-missing column, a non-binary target.

    ``source`` names the table (a file path, or ``"reference"`` / ``"current"`` for a dataframe) and
    ``column`` the column, when the problem has one. The command line turns it into exit status 2.

    >>> str(InputError("is empty", source="a.csv"))
    'a.csv: is empty'
    """

    def __init__(self, message: str, *, source: str | None = None, column: str | None = None) -> None:
        self.source, self.column, self.reason = source, column, message
        where = source or ""
        if column is not None:
            where = f"{where}, column {column!r}" if where else f"column {column!r}"
        super().__init__(f"{where}: {message}" if where else message)
