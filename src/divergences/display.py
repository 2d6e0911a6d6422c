"""Text from data made visible: control characters written as escapes, and numbers for display.

Internal API shared by the CLI (:mod:`divergences.cli`) and the HTML report (:mod:`divergences.tabular`); not
part of the public surface of ``divergences``.

Column names, category values and file paths come from the data and may carry ANSI escape
sequences (``ESC[2J``), carriage returns that overwrite a line, or bidirectional overrides that
reorder what a reader sees. :func:`visible` writes each of them as a Python-style escape
(``\\x1b``, ``\\r``, ``\\u202e``) and leaves every printable character as it is.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

__all__ = ["number", "p_value", "visible"]

# bidirectional embeddings / overrides / isolates: they reorder what a reader sees
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _escape_char(ch: str) -> str:
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}
    if ch in named:
        return named[ch]
    o = ord(ch)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def visible(text: Any, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\r``, ``\\u202e``).

    >>> visible("a\\x1b[31mb\\rc")
    'a\\\\x1b[31mb\\\\rc'
    """
    s = str(text)
    if s.isprintable() and not (_BIDI & set(s)):
        return s
    out = []
    for ch in s:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp") or (
                unicodedata.category(ch) == "Cf" and ch not in "\u200d\ufe0f"):
            out.append(_escape_char(ch))
        else:
            out.append(ch)
    return "".join(out)


def number(x: Any, digits: int = 3) -> str:
    """A number for display: ``digits`` significant digits, ``–`` when missing (None, NaN), ``∞``.

    >>> number(0.123456), number(float("nan")), number(-float("inf")), number(7), number(True)
    ('0.123', '–', '−∞', '7', 'true')
    """
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


def p_value(p: Any) -> str:
    """A p-value: two significant digits, ``<1e-16`` below what double precision resolves near 1."""
    if isinstance(p, float) and not math.isnan(p) and p < 1e-16:
        return "<1e-16"
    return number(p, 2)
