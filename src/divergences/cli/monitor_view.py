"""``divergences monitor``: run the tabular monitor and print one line per column over the windows.

Each line: the column, its kind, the first window where it drifted, how many windows drifted, the
latest value with its interval, and a sparkline of the drift metric over the (last 24) windows
(``▁▂▃▄▅▆▇█`` scaled to the column's largest value; ``·`` for a window without a value). Names from
the data are made visible (:func:`~.text.visible`) and printed as plain text.
"""

from __future__ import annotations

import math
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group
from rich.text import Text

from .render import pad
from .text import fmt, markdown_cell, plain, visible

__all__ = ["monitor_drifted", "render_monitor", "run_monitor", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"
_SPARK = 24


def run_monitor(reference: Any, current: Any, *, by: str, every: str, progress=None, **keywords: Any) -> Any:
    """:func:`divergences.tabular.monitor` with the command's keywords (no target: IV is not monitored)."""
    from ..tabular.monitor import monitor

    keywords = {k: v for k, v in keywords.items() if k not in ("target", "bad")}
    return monitor(reference, current, by=by, every=every, progress=progress, **keywords)


def monitor_drifted(m: Any) -> list[str]:
    """Columns that drifted in at least one window."""
    return [c for c, w in m.first_drift.items() if w is not None]


def sparkline(values: list[float], top: float | None = None) -> str:
    """``values`` as block characters scaled to ``top`` (default: their maximum)."""
    finite = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    top = top if top is not None else (max(finite) if finite else 0.0)
    out = []
    for v in values:
        if not (isinstance(v, float) and math.isfinite(v)):
            out.append("·")
        elif top <= 0:
            out.append(_BARS[0])
        else:
            out.append(_BARS[min(int(v / top * (len(_BARS) - 1) + 0.5), len(_BARS) - 1)])
    return "".join(out)


def spark(rows: list, threshold: float) -> str:
    """The sparkline of the last windows, scaled to the larger of their maximum and the threshold
    (noise below the threshold stays low)."""
    values = [r.value for r in rows[-_SPARK:]]
    finite = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    return sparkline(values, max(finite + [threshold]))


def _rows(m: Any) -> list[tuple[str, list]]:
    from ..tabular.report_monitor import by_column

    return list(by_column(m).items())


def _header(m: Any) -> Text:
    drifted = monitor_drifted(m)
    t = Text(visible(f"{len(drifted)} of {len(m.first_drift)} columns drifted in at least one of {len(m.windows)} "
                     f"windows ({m.every} by {m.by})"), style="bold")
    t.append("\n" + visible(f"rule: {m.drift_rule}"))
    if m.missing_by:
        t.append(f"\n{m.missing_by} rows without a time left out")
    return t


def render_monitor(m: Any, console: Console, fmt_name: str = "auto") -> None:
    """Print the monitoring result ``m`` (compact lines, or Markdown with ``fmt_name="markdown"``)."""
    from ..tabular.report_monitor import short_window, threshold_of

    rows = _rows(m)
    if fmt_name == "markdown":
        lines = [f"**{markdown_cell(_header(m).plain.splitlines()[0])}**", "",
                 f"| column | kind | first drift | windows drifted | latest {m.metric} | interval |",
                 "|---|---|---|--:|--:|---|"]
        for c, rs in rows:
            last = rs[-1]
            lines.append(f"| {markdown_cell(c)} | {rs[0].kind} | {short_window(m.first_drift.get(c))} | "
                         f"{sum(r.drifted for r in rs)} of {len(rs)} | {fmt(last.value)} | "
                         f"[{fmt(last.ci_low)}, {fmt(last.ci_high)}] |")
        console.print("\n".join(lines) + "\n", markup=False, highlight=False, soft_wrap=True, end="")
        return
    threshold = threshold_of(m) or 0.0
    cells = []
    for c, rs in rows:
        last = rs[-1]
        first = m.first_drift.get(c)
        cells.append((visible(c), {"numeric": "num", "categorical": "cat", "datetime": "time"}.get(rs[0].kind, "?"),
                      short_window(first),
                      f"{sum(r.drifted for r in rs)}/{len(rs)}", f"{fmt(last.value)} [{fmt(last.ci_low)}, "
                      f"{fmt(last.ci_high)}]", spark(rs, threshold)))
    titles = ("column", "kind", "first drift", "drifted", f"latest {m.metric}", "over time")
    widths = [max([cell_len(t)] + [cell_len(r[i]) for r in cells]) for i, t in enumerate(titles)]
    rest = sum(widths[1:]) + 2 * (len(widths) - 1)
    name_w = max(min(widths[0], console.width - rest), 8)

    def line(row, style=""):
        name, *others = row
        body = "  ".join(pad(v, widths[i + 1]) if i < len(others) - 1 else v for i, v in enumerate(others)).rstrip()
        if cell_len(name) > name_w:
            return Text(name + "\n" + " " * name_w + "  " + body, style=style)
        return Text(pad(name, name_w) + "  " + body, style=style)

    out: list[Any] = [_header(m), line(titles, "dim")]
    out += [line(r, "bold red" if r[2] != "–" else "") for r in cells]
    console.print(Group(*out), highlight=False, soft_wrap=True)
    for w, c, reason in m.skipped[:10]:
        console.print(plain(f"skipped {c} in {w}: {reason}", style="yellow"), highlight=False, soft_wrap=True)
    if len(m.skipped) > 10:
        console.print(f"… {len(m.skipped) - 10} more skipped (window, column) pairs in the reports", markup=False)
