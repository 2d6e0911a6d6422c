"""Text from data, made safe to print: no Rich markup, no terminal control, no Markdown structure.

Column names, category values and file paths come from the data and may be hostile: ``[/]`` or
``[bold red]x[/]`` (Rich markup), ``ESC[2J`` (ANSI), ``\\r`` (overwrites the line), bidirectional
overrides. Everything the command prints goes through :func:`visible` and is handed to Rich as a
:class:`rich.text.Text` (never parsed as markup).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ..display import number, p_value, visible

__all__ = ["fmt", "fmt_p", "markdown_cell", "plain", "visible"]


def plain(text: Any, style: str = "") -> Text:
    """A Rich ``Text`` of ``text`` made visible: printed as is, never read as markup."""
    return Text(visible(text), style=style)


def fmt(x: Any, digits: int = 3) -> str:
    """A number for a terminal cell (see :func:`divergences.display.number`)."""
    return number(x, digits)


def fmt_p(p: Any) -> str:
    """A p-value for a terminal cell (see :func:`divergences.display.p_value`)."""
    return p_value(p)


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
