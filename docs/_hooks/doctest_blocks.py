"""Griffe extension: docstring examples (``>>>`` sessions) become fenced ``pycon`` code blocks, and
Sphinx roles (``:func:`x```) become code spans.

The docstrings of ``divergences`` are prose with doctests (collected by pytest). Without this,
Markdown would read ``>>> c["x"]["psi"]`` as a nested quote holding a reference link.
"""

from __future__ import annotations

import re

import griffe

# Sphinx roles (:func:`x`, :class:`~a.b.C`, :mod:`.m`) read as code: the name the reader would see
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):`~?\.?([^`]+)`")


def roles_as_code(text: str) -> str:
    """``:func:`a.b``` → ```a.b``` (with ``~``, the last component only)."""
    def one(m: re.Match) -> str:
        full = m.group(0)
        name = m.group(1)
        if "`~" in full:
            name = name.rsplit(".", 1)[-1]
        return f"`{name}`"

    return _ROLE.sub(one, text)


def fence_doctests(text: str) -> str:
    """``text`` with every run of ``>>>`` / ``...`` lines and their output lines fenced."""
    out: list[str] = []
    inside = False
    indent = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not inside and stripped.startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
            inside = True
        elif inside and not stripped:
            out.append(f"{indent}```")
            inside = False
        out.append(line)
    if inside:
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Fence the doctests of every docstring that griffe loads."""

    def on_object(self, *, obj, **kwargs) -> None:
        if obj.docstring is None:
            return
        text = obj.docstring.value
        if ">>>" in text:
            text = fence_doctests(text)
        if ":`" in text:
            text = roles_as_code(text)
        obj.docstring.value = text
