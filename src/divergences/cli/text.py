"""Text from data, made safe to print: no Rich markup, no terminal control, no Markdown structure.

Column names, category values and file paths come from the data and may be hostile: ``[/]`` or
``[bold red]x[/]`` (Rich markup), ``ESC[2J`` (ANSI), ``\\r`` (overwrites the line), bidirectional
overrides. Everything the command prints goes through :func:`visible` and is handed to Rich as a
:class:`rich.text.Text` (never parsed as markup).
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text

from .._safe_text import visible

__all__ = ["fmt", "fmt_p", "markdown_cell", "plain", "visible"]


def plain(text: Any, style: str = "") -> Text:
    """A Rich ``Text`` of ``text`` made visible: printed as is, never read as markup."""
    return Text(visible(text), style=style)


def fmt(x: Any, digits: int = 3) -> str:
    """A number for a terminal cell: 3 significant digits, ``–`` for missing, ``∞`` for infinite."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, float):
        if math.isnan(x):
            return "–"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        return f"{x:.{digits}g}"
    return str(x)


def fmt_p(p: Any) -> str:
    """A p-value: two significant digits, ``<1e-16`` below double precision's resolution."""
    if isinstance(p, float) and not math.isnan(p) and p < 1e-16:
        return "<1e-16"
    return fmt(p, 2)


_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>&~")


def markdown_cell(text: Any) -> str:
    """``text`` for one cell of a GitHub-flavoured Markdown table: visible, with every character that
    Markdown or HTML would interpret escaped (``|`` cannot end the cell, ``<b>`` stays text)."""
    s = visible(text)
    out = []
    for ch in s:
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)
