"""The HTML report of :func:`~divergences.tabular.monitor`: drift over time, one self-contained file.

Top: which columns drifted and in which window first, and the dataset verdict per window. Then a
sortable, filterable table (column, kind, first drifted window, windows drifted, latest value with
its interval) and, per column, the drift metric over the windows with its interval as a band, the
threshold as a dashed line and the drifted windows marked (hover a point for its numbers).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from .report import _cell, _num, _text, page
from .report_svg import timeline_svg

__all__ = ["by_column", "render_monitor_html", "short_window", "threshold_of"]


def by_column(m: Any) -> dict[str, list]:
    """The monitor's rows grouped per column, in window order."""
    out: dict[str, list] = {}
    for r in m.rows:
        out.setdefault(r.column, []).append(r)
    return out


def short_window(w: str | None) -> str:
    """A window start for display: the date alone when the window starts at midnight UTC."""
    if not w:
        return "–"
    return w[:10] if w.endswith("T00:00:00Z") else w


def threshold_of(m: Any) -> float | None:
    """The monitor's drift threshold (None where it has none: NaN)."""
    t = getattr(m, "threshold", math.nan)
    return None if t is None or math.isnan(t) else float(t)


def render_monitor_html(m: Any) -> str:
    """The monitoring report of a :class:`~divergences.tabular.monitor.Monitoring` as one HTML document."""
    cols = by_column(m)
    drifted = {c: w for c, w in m.first_drift.items() if w is not None}
    threshold = threshold_of(m)
    dataset = [(w, c.summary) for w, c in m.comparisons.items()]
    drift_windows = [w for w, s in dataset if s.dataset_drift]
    body = ["<h1>Drift over time</h1>",
            f"<div class='meta'>reference <code>{_text(m.reference)}</code> · current <code>{_text(m.current)}</code>"
            f" · windows of <b>{escape(m.every)}</b> by <code>{_text(m.by)}</code> ({len(m.windows)} windows"
            + (f"; {m.missing_by} rows without a time left out" if m.missing_by else "")
            + f")<br>metric <b>{escape(m.metric)}</b> with P = current window, Q = reference; "
            f"{getattr(m.options, 'confidence', 0.95):.0%} intervals; column rule: <b>{escape(m.drift_rule)}</b></div>"]
    verdict = (f"<div class='big'>{len(drifted)} of {len(cols)} columns drifted in at least one window</div><ul>"
               + (f"<li>dataset drift (share of drifted columns ≥ {dataset[0][1].drift_share:.0%}) in "
                  f"{len(drift_windows)} of {len(dataset)} windows"
                  + (f", first {escape(short_window(drift_windows[0]))}" if drift_windows else "") + "</li>" if dataset else "")
               + "".join(f"<li>{_text(c)}: first drifted in {escape(short_window(w))}</li>" for c, w in
                         sorted(drifted.items(), key=lambda kv: kv[1])[:20])
               + "</ul>")
    body.append(f"<div class='verdict{' drift' if drifted else ''}' id='verdict'>{verdict}</div>")
    if m.skipped:
        body.append("<div class='skipped' id='skipped'><b>Not compared:</b><ul>" + "".join(
            f"<li>{escape(short_window(w))} · {_text(c)}: {_text(r)}</li>" for w, c, r in m.skipped[:50]) + "</ul></div>")
    kinds = sorted({rows[0].kind for rows in cols.values()})
    body.append("<h2>Columns</h2><div class='controls'><input type='search' id='filter' "
                "placeholder='filter columns by name' aria-label='filter columns'><label><input type='checkbox' "
                "id='only-drift'> drifted only</label><label>kind <select id='kind'><option value=''>all</option>"
                + "".join(f"<option>{escape(k)}</option>" for k in kinds)
                + "</select></label><span id='shown' class='ci'></span></div>")
    heads = ["column", "kind", "first drift", "windows drifted", f"latest {m.metric}", "interval", "max", "max window"]
    body.append("<div class='scroll'><table id='summary' class='sortable'><thead><tr>"
                + "".join(f"<th title='click to sort'>{escape(h)}</th>" for h in heads) + "</tr></thead><tbody>")
    for i, (c, rows) in enumerate(cols.items()):
        last = rows[-1]
        finite = [r for r in rows if isinstance(r.value, float) and math.isfinite(r.value)]
        top = max(finite, key=lambda r: r.value) if finite else None
        n_drift = sum(r.drifted for r in rows)
        first = m.first_drift.get(c)
        cells = [_cell(c, f"<a href='#col-{i}'>{_text(c)}</a>"), _cell(rows[0].kind),
                 _cell(first or "", escape(short_window(first))), _cell(n_drift, f"{n_drift} of {len(rows)}"),
                 _cell(last.value), _cell(last.ci_low, f"[{escape(_num(last.ci_low, 3))}, "
                                                       f"{escape(_num(last.ci_high, 3))}]", "ci"),
                 _cell(top.value if top else None), _cell(top.window if top else "", escape(short_window(top.window if top else None)))]
        body.append(f"<tr class='{'drift' if first else ''}' data-name='{_text(c)}' data-kind='{escape(rows[0].kind)}'"
                    f" data-drift='{int(first is not None)}'>" + "".join(cells) + "</tr>")
    body.append("</tbody></table></div>")
    body.append(f"<h2>{escape(m.metric)} per window</h2><div class='legend'>line: the estimate; band: its interval; "
                "dashed: the threshold; large red points: drifted windows (hover a point for its numbers)</div>"
                "<div class='cols'>")
    for i, (c, rows) in enumerate(cols.items()):
        first = m.first_drift.get(c)
        chart = timeline_svg([short_window(r.window) for r in rows],
                             [r.value for r in rows], [r.ci_low for r in rows], [r.ci_high for r in rows],
                             [r.drifted for r in rows], threshold=threshold, metric=m.metric)
        body.append(f"<div class='card' id='col-{i}'><h3>{_text(c)}</h3><div class='sub'>{escape(rows[0].kind)} · "
                    + (f"<b class='band-significant'>first drift {escape(short_window(first))}</b>" if first else "no drift")
                    + f"</div>{chart}</div>")
    body.append("</div>")
    return page(f"divergences monitor: {_text(m.current)} vs {_text(m.reference)}", body)
