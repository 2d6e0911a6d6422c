"""What ``divergences compare`` prints: a wide table, a compact layout, Markdown, or JSON.

``--format auto`` (the default) prints the wide Rich table on a terminal wide enough for it and the
compact layout otherwise (80 columns, CI logs, pipes): one line per column with the headline
metric and its interval, the p-value, the band and the verdict; a name too long for its field gets
a line of its own instead of being cut or folded. Every name from the data goes through
:func:`~.text.visible` and is printed as plain text (never Rich markup).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from .text import fmt, fmt_p, markdown_cell, plain, visible

__all__ = ["FORMATS", "headline_metric", "iv_text", "markdown", "pad", "render", "wide_enough"]

FORMATS = ("auto", "table", "compact", "markdown", "json")
_KIND = {"numeric": "num", "categorical": "cat", "datetime": "time"}
WIDE = 110  # below this the wide table no longer fits: the compact layout is used


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal cells (East-Asian wide characters and emoji
    take two cells: ``str.ljust`` counts them as one and misaligns the columns)."""
    return text + " " * max(width - cell_len(text), 0)


def headline_metric(c: Any) -> str:
    """The metric that decides drift (:attr:`Comparison.headline_metric`)."""
    return c.headline_metric


def _estimate(col: Any, name: str):
    return col.metrics.get(name)


def _ci(m) -> str:
    if m is None:
        return "–"
    return f"{fmt(m.value)} [{fmt(m.ci_low)}, {fmt(m.ci_high)}]"


def _band(col: Any, m: Any) -> str:
    """The band, or what broke (``type changed``, ``dropped``, ``all missing``)."""
    if getattr(col, "status", "compared") != "compared":
        return col.status
    return (m.band if m else "") or "–"


def _missing(col: Any) -> str:
    t = getattr(col, "missing", None)
    if t is None or (t.reference == 0 and t.current == 0):
        return "–"
    return f"{t.reference:.0%}→{t.current:.0%}" + ("!" if t.drifted else "")


def _verdict_line(c: Any) -> Text:
    s = c.summary
    text = Text(visible(s.headline), style="bold")
    text.append(f"\nrule: {visible(c.drift_rule)}; smoothing {visible(fmt(c.smoothing))}", style="")
    return text


def _extra_reasons(col: Any, head: str) -> list[str]:
    """Why a drifted column drifted, where its row does not say it (missing share, broken column)."""
    return [r for r in getattr(col, "reasons", ()) if not r.startswith(f"{head} ")] if col.drifted else []


def _notes(c: Any) -> list[Text]:
    out = []
    head = headline_metric(c)
    for col in c.columns:
        extra = _extra_reasons(col, head)
        if extra:
            out.append(plain(f"{col.column}: {'; '.join(extra)}", style="red"))
    flagged = [col for col in c.columns if getattr(col, "unseen_flag", False)]
    for col in flagged:
        out.append(plain(f"{col.column}: {col.unseen_share:.0%} of current values never seen in the reference",
                         style="yellow"))
    for s in c.skipped:
        out.append(plain(f"skipped {s.column} ({s.where}): {s.reason}", style="yellow"))
    quality = getattr(c, "quality", None)
    for line in (quality.lines() if quality is not None else []):
        out.append(plain(f"data quality: {line}", style="yellow"))
    return out


def wide_table(c: Any, limit: int | None = None) -> Table:
    head = headline_metric(c)
    others = [m for m in c.metrics if m != head]
    table = Table(title=_verdict_line(c), title_justify="left")
    table.add_column("column", overflow="fold")
    table.add_column("kind")
    table.add_column(f"{head} [{c.confidence:.0%} CI]", justify="right")
    table.add_column("p-value", justify="right")
    table.add_column("band")
    for m in others:
        table.add_column(m, justify="right")
    table.add_column("unseen", justify="right")
    table.add_column("missing", justify="right")
    table.add_column("drift")
    cols = _ordered(c, head)
    for col in cols[:limit]:
        m = _estimate(col, head)
        cells = [plain(col.column), Text(col.kind), Text(_ci(m)), Text(fmt_p(m.p_value) if m else "–"),
                 Text(_band(col, m))]
        cells += [Text(fmt(_estimate(col, o).value) if _estimate(col, o) else "–") for o in others]
        cells.append(Text("–" if col.unseen_share is None else f"{col.unseen_share:.0%}",
                          style="yellow" if col.unseen_flag else ""))
        cells.append(Text(_missing(col), style="red" if col.missing is not None and col.missing.drifted else ""))
        cells.append(Text("drift", style="bold red") if col.drifted else Text(""))
        table.add_row(*cells)
    if limit is not None and len(cols) > limit:
        table.caption = f"{len(cols) - limit} more columns in the reports"
    return table


def _ordered(c: Any, head: str) -> list:
    def key(col):
        m = _estimate(col, head)
        v = m.value if m is not None else float("nan")
        return (not col.drifted, -v if v == v else float("inf"))

    return sorted(c.columns, key=key)


def compact(c: Any, width: int, limit: int | None = None) -> Group:
    """The compact layout for ``width`` columns (at least ~60 readable; 80 fits every field)."""
    head = headline_metric(c)
    cols = _ordered(c, head)
    cells = []
    for col in cols[:limit]:
        m = _estimate(col, head)
        cells.append((visible(col.column), _KIND.get(col.kind, col.kind), _ci(m), fmt_p(m.p_value) if m else "–",
                      _band(col, m), "DRIFT" if col.drifted else ""))
    titles = ("column", "kind", f"{head} [{c.confidence:.0%} CI]", "p-value", "band", "drift")
    widths = [max([cell_len(t)] + [cell_len(r[i]) for r in cells]) for i, t in enumerate(titles)]
    rest = sum(widths[1:]) + 2 * (len(widths) - 1)
    name_w = max(min(widths[0], width - rest), 8)

    def line(row, style="") -> Text:
        name, *others = row
        body = "  ".join(pad(v, widths[i + 1]) if i < len(others) - 1 else v for i, v in enumerate(others)).rstrip()
        t = Text()
        if cell_len(name) > name_w:  # a name of its own line, the values under it: nothing cut, nothing folded
            t.append(name + "\n", style=style or "bold")
            t.append(" " * name_w + "  " + body, style=style)
        else:
            t.append(pad(name, name_w) + "  " + body, style=style)
        return t

    lines: list[Any] = [_verdict_line(c), line(titles, style="dim")]
    for row in cells:
        lines.append(line(row, style="bold red" if row[-1] else ""))
    if limit is not None and len(cols) > limit:
        lines.append(Text(f"… {len(cols) - limit} more columns in the reports"))
    return Group(*lines)


def markdown(c: Any) -> str:
    """A GitHub-flavoured Markdown summary (for ``$GITHUB_STEP_SUMMARY`` and merge-request notes)."""
    head = headline_metric(c)
    out = [f"**{markdown_cell(c.summary.headline)}** ({markdown_cell(c.drift_rule)})", "",
           f"| column | kind | {head} | {c.confidence:.0%} CI | p-value | band | unseen | missing | drift |",
           "|---|---|--:|---|--:|---|--:|--:|---|"]
    for col in _ordered(c, head):
        m = _estimate(col, head)
        ci = f"[{fmt(m.ci_low)}, {fmt(m.ci_high)}]" if m else "–"
        unseen = "–" if col.unseen_share is None else f"{col.unseen_share:.0%}"
        out.append(f"| {markdown_cell(col.column)} | {col.kind} | {fmt(m.value) if m else '–'} | {ci} | "
                   f"{fmt_p(m.p_value) if m else '–'} | {_band(col, m)} | {unseen} | {_missing(col)} | "
                   f"{'**drift**' if col.drifted else ''}"
                   + (f" ({markdown_cell('; '.join(why))})" if (why := _extra_reasons(col, head)) else "") + " |")
    for s in c.skipped:
        out.append("")
        out.append(f"- skipped `{markdown_cell(s.column)}` ({s.where}): {markdown_cell(s.reason)}")
    quality = getattr(c, "quality", None)
    if quality is not None and quality.issues:
        out += ["", "**Data quality**", ""] + [f"- {markdown_cell(line)}" for line in quality.lines()]
    if c.information_value:
        from ..tabular.report import iv_by_feature

        tables, ordered = iv_by_feature(c.information_value)
        out += ["", "| feature | " + " | ".join(f"IV {t} | interval ({t})" for t in tables) + " | band |",
                "|---|" + "--:|---|" * len(tables) + "---|"]
        for feature, per in ordered:
            cells = []
            for t in tables:
                r = per.get(t)
                cells += [fmt(r["iv"]), f"[{fmt(r['iv_ci_low'])}, {fmt(r['iv_ci_high'])}]"] if r else ["–", "–"]
            band = (per.get(tables[0]) or {}).get("iv_band") or "–"
            out.append(f"| {markdown_cell(feature)} | " + " | ".join(cells) + f" | {band} |")
    return "\n".join(out) + "\n"


def iv_text(rows: Iterable[dict], limit: int | None = None) -> Table:
    """The information-value table (``--target``): one row per feature, one column per table
    (reference, current), sorted by the reference's IV."""
    from ..tabular.report import iv_by_feature

    tables, ordered = iv_by_feature(list(rows))
    table = Table(title=Text("Information value of each feature for the target", style="bold"), title_justify="left")
    table.add_column("feature", overflow="fold")
    for t in tables:
        table.add_column(f"IV {t} [CI]", justify="right")
    table.add_column("band")
    for feature, per in ordered[:limit]:
        cells = [plain(feature)]
        for t in tables:
            r = per.get(t)
            cells.append(Text(f"{fmt(r['iv'])} [{fmt(r['iv_ci_low'])}, {fmt(r['iv_ci_high'])}]" if r else "–"))
        cells.append(Text((per.get(tables[0]) or {}).get("iv_band") or ""))
        table.add_row(*cells)
    if limit is not None and len(ordered) > limit:
        table.caption = f"{len(ordered) - limit} more features in the reports"
    return table


def wide_enough(console: Console) -> bool:
    return console.is_terminal and console.width >= WIDE


def render(c: Any, console: Console, fmt_name: str = "auto", limit: int | None = None) -> None:
    """Print the comparison ``c`` on ``console`` in the format ``fmt_name`` (not ``json``)."""
    if fmt_name == "markdown":
        console.print(markdown(c), markup=False, highlight=False, soft_wrap=True, end="")
        return
    if fmt_name == "table" or (fmt_name == "auto" and wide_enough(console)):
        table = wide_table(c, limit)
        if fmt_name == "table" and not console.is_terminal:  # a pipe: the table at its natural width, not 80
            natural = Measurement.get(console, console.options.update(width=10_000), table).maximum
            before = console.width
            console.width = max(natural, before)
            try:
                console.print(table)
            finally:
                console.width = before
        else:
            console.print(table)
    else:
        console.print(compact(c, console.width, limit), highlight=False, soft_wrap=True)
    for note in _notes(c):  # notes wrap at the console's width (80 columns in a pipe or a CI log)
        console.print(note, highlight=False, soft_wrap=False, overflow="fold")
    if c.information_value:
        console.print(iv_text(c.information_value, limit))
