"""Inputs and outputs of the commands: reading tables and profiles, checking and writing reports."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from ..files import check_distinct, write_atomic

__all__ = ["check_delimiter", "check_outputs", "read_reference", "write_outputs"]


def check_outputs(inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
    """Refuse, before anything is read, an output that is an input, another output, a folder, or
    ``-`` (standard output) given twice."""
    check_distinct(inputs, outputs)
    dashes = [role for role, p in outputs.items() if p is not None and os.fspath(p) == "-"]
    if len(dashes) > 1:
        raise ValueError(f"{' and '.join(dashes)} both write to standard output ('-'): give one of them a file")
    for role, p in outputs.items():
        if p is not None and os.fspath(p) != "-" and os.path.isdir(p):
            raise ValueError(f"{role} {os.fspath(p)}: is a directory, not a file to write")


def check_delimiter(delimiter: str | None) -> str | None:
    """The ``--delimiter`` value: one character, ``tab`` or ``\\t`` for a tab."""
    if delimiter is None:
        return None
    if delimiter in ("\\t", "tab"):
        return "\t"
    if len(delimiter) != 1:
        raise ValueError(f"--delimiter must be one character (or 'tab'), got {delimiter!r}")
    return delimiter


def read_reference(path: str) -> Any:
    """A saved profile (``.json`` file) or the path of a table."""
    if path.lower().endswith(".json"):
        from ..tabular import Profile

        return Profile.from_json(path)
    return path


def write_outputs(texts: list[tuple[str, str]]) -> list[str]:
    """Write every (path, text) atomically; ``-`` goes to standard output. Returns the files written."""
    written = []
    for path, text in texts:
        if path == "-":
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()
        else:
            try:
                written.append(write_atomic(path, text))
            except OSError as exc:
                raise ValueError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return written
