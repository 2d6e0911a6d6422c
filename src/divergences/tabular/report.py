"""The HTML report: one self-contained file (inline CSS, JS and SVG; no CDN, no network request).

Top to bottom: the dataset verdict (share of drifted columns against ``drift_share``, Holm and
Benjamini–Hochberg across columns, skipped columns with their reasons); a summary table that sorts
on a click on any header and filters by name, kind and verdict; the information-value table when a
target was given; per column, reference and current histograms (full bin labels on hover), the
reference and current quantiles, the share of current values never seen in the reference, the
tests beside the divergences and the smoothing actually applied. Charts are drawn from the bin
counts, never from raw data, so a thousand columns stay light. Every name and category is
HTML-escaped; control characters in names are shown as escapes.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from ..display import number, p_value, visible
from ..files import write_atomic
from .report_assets import CSS, JS
from .report_svg import CUR, REF, histogram_svg

__all__ = ["iv_by_feature", "render_html", "write_atomic"]

_TESTS = {"ks": "KS", "anderson_darling": "Anderson–Darling", "chi2_test": "χ² homogeneity"}


def _num(x: Any, digits: int = 4) -> str:
    return number(x, digits)


def _p(x: Any) -> str:
    return escape(p_value(x))


def _sort_key(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return str(int(x))
    if isinstance(x, (int, float)):
        return "" if isinstance(x, float) and math.isnan(x) else ("1e308" if x == math.inf else repr(float(x)))
    return _text(x)


def _text(x: Any) -> str:
    """Data text for HTML: control characters as visible escapes, then HTML-escaped."""
    return escape(visible(x), quote=True)


def _cell(value: Any, html: str | None = None, cls: str = "") -> str:
    """A table cell whose sort key is ``value`` and whose content is ``html`` (or the value, escaped)."""
    c = f' class="{cls}"' if cls else ""
    return f'<td data-v="{_sort_key(value)}"{c}>{html if html is not None else escape(_num(value))}</td>'


def _verdict(c: Any) -> str:
    s = c.summary
    yes = s.dataset_drift
    line = (f"<div class='big'>Dataset drift: <span class='{'yes' if s.dataset_drift else 'no'}'>"
            f"{'yes' if s.dataset_drift else 'no'}</span> — {s.drifted} of {s.columns} columns drifted "
            f"({s.drifted_share:.0%}; dataset drift at ≥ {s.drift_share:.0%})</div>")
    items = [f"<li>Holm (family-wise error ≤ {s.alpha:g}): {len(s.holm_drifted)} column(s)"
             + (f": {', '.join(_text(x) for x in s.holm_drifted)}" if s.holm_drifted else "") + "</li>",
             f"<li>Benjamini–Hochberg (false discovery rate ≤ {s.alpha:g}): {len(s.bh_drifted)} column(s)"
             + (f": {', '.join(_text(x) for x in s.bh_drifted)}" if s.bh_drifted else "") + "</li>",
             f"<li>column rule: <b>{escape(c.drift_rule)}</b></li>"]
    mv = getattr(c, "multivariate", None)
    if mv is not None:
        items.append(f"<li class='{'flag' if mv.drifted else ''}'>multivariate ({len(mv.columns)} numeric columns "
                     f"together, {escape(mv.method)} on {mv.rows_reference} and {mv.rows_current} sampled rows): "
                     f"{'drift' if mv.drifted else 'no drift'}, p {_p(mv.p_value)}, effect size (H) "
                     f"{escape(_num(mv.effect_size, 3))}</li>")
    flagged = [col for col in c.columns if col.unseen_flag]
    if flagged:
        items.append("<li class='flag'>new categories: " + ", ".join(
            f"{_text(col.column)} ({col.unseen_share:.0%} of current values unseen)" for col in flagged) + "</li>")
    out = [f"<div class='verdict{' drift' if yes else ''}' id='verdict'>{line}<ul>{''.join(items)}</ul></div>"]
    if c.skipped:
        out.append("<div class='skipped' id='skipped'><b>Not compared:</b><ul>" + "".join(
            f"<li>{_text(s_.column)} ({escape(s_.where)}): {_text(s_.reason)}</li>" for s_ in c.skipped)
            + "</ul></div>")
    return "".join(out)


def _quality(c: Any) -> str:
    """The data-quality checks: new and dropped columns, type changes, missing shares, constant columns,
    values outside the reference's range (nothing when there is no finding)."""
    q = getattr(c, "quality", None)
    if q is None or not q.issues:
        return "<div class='quality' id='quality'><b>Data quality:</b> no finding.</div>"
    return ("<div class='skipped quality' id='quality'><b>Data quality:</b><ul>"
            + "".join(f"<li>{_text(line)}</li>" for line in q.lines()) + "</ul></div>")


def _summary_table(c: Any, head: str) -> str:
    others = [m for m in c.metrics if m != head]
    present = {t for col in c.columns for t in col.tests}
    tests = [t for t in _TESTS if t in present] + sorted(present - set(_TESTS))
    heads = ["column", "kind", "bins", "rows ref", "rows cur", "missing ref → cur", head,
             f"{c.confidence:.0%} interval", "p-value", "band", *others,
             *(f"{_TESTS.get(t, t)} p" for t in tests), "unseen", "smoothing", "drift"]
    kinds = sorted({col.kind for col in c.columns})
    out = ["<div class='controls'><input type='search' id='filter' placeholder='filter columns by name' "
           "aria-label='filter columns'><label><input type='checkbox' id='only-drift'> drifted only</label>"
           "<label>kind <select id='kind'><option value=''>all</option>"
           + "".join(f"<option>{escape(k)}</option>" for k in kinds)
           + "</select></label><span id='shown' class='ci'></span></div>",
           "<div class='scroll'><table id='summary' class='sortable'><thead><tr>",
           "".join(f"<th title='click to sort'>{escape(h)}</th>" for h in heads), "</tr></thead><tbody>"]
    for i, col in enumerate(c.columns):
        m = col.metrics.get(head)
        value, lo, hi, pv, band = (m.value, m.ci_low, m.ci_high, m.p_value, m.band) if m else (math.nan,) * 4 + ("",)
        cells = [_cell(col.column, f"<a href='#col-{i}'>{_text(col.column)}</a>"),
                 _cell(col.kind), _cell(col.bins), _cell(col.n_reference), _cell(col.n_current),
                 _cell(col.missing_current - col.missing_reference, _missing_html(col),
                       "flag" if col.missing is not None and col.missing.drifted else ""),
                 _cell(value),
                 _cell(lo, f"[{escape(_num(lo, 3))}, {escape(_num(hi, 3))}]", "ci"),
                 _cell(pv, _p(pv)),
                 _cell(band or "", escape(band or ""), f"band-{band or 'none'}")]
        if col.status != "compared":
            cells[-1] = _cell(col.status, escape(col.status), "band-significant" if col.drifted else "")
        for o in others:
            e = col.metrics.get(o)
            if e is None:
                cells.append(_cell(None, "–"))
                continue
            tip = f"{o} {_num(e.value)}, interval [{_num(e.ci_low)}, {_num(e.ci_high)}], p-value {_num(e.p_value, 2)}"
            cells.append(_cell(e.value, f"<span title='{escape(tip, quote=True)}'>{escape(_num(e.value, 3))}</span>"))
        for t in tests:
            r = col.tests.get(t)
            cells.append(_cell(r.p_value if r else None, _p(r.p_value) if r else "–"))
        unseen = col.unseen_share
        cells.append(_cell(unseen, "–" if unseen is None else f"{unseen:.1%}", "flag" if col.unseen_flag else ""))
        cells.append(_cell(col.smoothing, escape(_num(col.smoothing, 3))))
        why = escape("; ".join(col.reasons), quote=True)
        cells.append(_cell(col.drifted, f"<span title='{why}'>drift</span>" if col.drifted else ""))
        out.append(f"<tr class='{'drift' if col.drifted else ''}' data-name='{_text(col.column)}' "
                   f"data-kind='{escape(col.kind, quote=True)}' data-drift='{int(col.drifted)}'>"
                   + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _missing_html(col: Any) -> str:
    t = col.missing
    text = f"{_pct(col.missing_reference)} → {_pct(col.missing_current)}"
    if t is None:
        return escape(text)
    tip = (f"change {t.difference:+.1%}, interval [{t.ci_low:+.1%}, {t.ci_high:+.1%}], "
           f"p-value {p_value(t.p_value)} ({'two-proportion z-test' if t.test == 'z' else 'Fisher exact test'})")
    return f"<span title='{escape(tip, quote=True)}'>{escape(text)}</span>"


def _pct(x: Any) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def iv_by_feature(rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, dict[str, dict]]]]:
    """The IV rows grouped per feature: (tables present, in the order reference, current;
    [(feature, {table: row})] sorted by the first table's IV, largest first)."""
    per: dict[str, dict[str, dict]] = {}
    for r in rows:
        per.setdefault(r["feature"], {})[r["table"]] = r
    tables = [t for t in ("reference", "current") if any(t in v for v in per.values())]

    def key(item):
        iv = item[1].get(tables[0], {}).get("iv")
        return -iv if isinstance(iv, float) and iv == iv else math.inf

    return tables, sorted(per.items(), key=key)


def _iv_table(rows: list[dict[str, Any]]) -> str:
    """One row per feature, the reference's and the current table's IV side by side (sorted by the
    reference's IV, largest first; a click on a header sorts again)."""
    tables, ordered = iv_by_feature(rows)
    heads = ["feature", *(f"{h} ({t})" for t in tables for h in ("IV", "interval", "band")),
             f"goods ({tables[0]})", f"bads ({tables[0]})"]
    out = ["<h2>Information value (target)</h2><div class='scroll'><table id='iv' class='sortable'><thead><tr>",
           "".join(f"<th title='click to sort'>{escape(h)}</th>" for h in heads), "</tr></thead><tbody>"]

    for feature, by_table in ordered:
        cells = [_cell(feature, _text(feature))]
        for t in tables:
            r = by_table.get(t)
            if r is None:
                cells += [_cell(None, "–")] * 3
                continue
            cells += [_cell(r["iv"]),
                      _cell(r["iv_ci_low"], f"[{escape(_num(r['iv_ci_low']))}, {escape(_num(r['iv_ci_high']))}]", "ci"),
                      _cell(r.get("iv_band") or "")]
        first = by_table[tables[0]] if tables[0] in by_table else next(iter(by_table.values()))
        cells += [_cell(first.get("n_good")), _cell(first.get("n_bad"))]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


_SHOWN_LEVELS = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def shown_quantiles(levels) -> list[int]:
    """Indices of the levels a card shows: the usual 1, 5, 25, 50, 75, 95, 99 % where present, else
    at most seven spread evenly (the JSON report has them all)."""
    picked = [i for i, lv in enumerate(levels) if any(abs(lv - w) < 1e-9 for w in _SHOWN_LEVELS)]
    if len(picked) >= 3 or len(levels) <= 7:
        return picked if len(picked) >= 3 else list(range(len(levels)))
    step = (len(levels) - 1) / 6
    return sorted({round(k * step) for k in range(7)})


def _quantile_table(q: Any, kind: str = "numeric") -> str:
    """Reference and current quantiles, one row per level (narrow enough for a card); times of a
    date/time column shown as dates (UTC), not as seconds."""
    if q is None or not q.levels:
        return ""
    show = _when if kind == "datetime" else (lambda x: _num(x, 4))
    rows = "".join(f"<tr><td>{q.levels[i]:.0%}</td><td>{escape(show(q.reference[i]))}</td>"
                   f"<td>{escape(show(q.current[i]))}</td></tr>" for i in shown_quantiles(q.levels))
    return ("<table class='quantiles'><thead><tr><th>quantile</th><th>reference</th><th>current</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _when(seconds: Any) -> str:
    """Seconds since 1970-01-01 UTC as an ISO date (and time, when not midnight)."""
    from datetime import datetime, timezone

    try:
        t = datetime.fromtimestamp(float(seconds), timezone.utc)
    except (OverflowError, OSError, ValueError, TypeError):
        return _num(seconds, 4)
    return t.strftime("%Y-%m-%d") if (t.hour, t.minute, t.second) == (0, 0, 0) else t.strftime("%Y-%m-%d %H:%M:%S")


def _card(i: int, col: Any, head: str) -> str:
    m = col.metrics.get(head)
    sub = [escape(col.kind)]
    if m is not None:
        sub.append(f"{escape(head)} {escape(_num(m.value))} [{escape(_num(m.ci_low))}, {escape(_num(m.ci_high))}], "
                   f"p {_p(m.p_value)}")
    if col.drifted:
        sub.append("<b class='band-significant'>drift</b>")
    extra = []
    if col.reasons:
        extra.append("<span class='flag'>why: " + escape("; ".join(col.reasons)) + "</span>")
    if col.missing is not None and (col.missing.reference > 0 or col.missing.current > 0):
        t = col.missing
        extra.append(f"missing {_pct(t.reference)} → {_pct(t.current)} (change {t.difference:+.1%}, interval "
                     f"[{t.ci_low:+.1%}, {t.ci_high:+.1%}], p {_p(t.p_value)})")
    if col.unseen_share is not None:
        extra.append(f"<span class='{'flag' if col.unseen_flag else ''}'>unseen in the reference: "
                     f"{col.unseen_share:.1%} of current values</span>")
    if col.smoothing:
        extra.append(f"smoothing {escape(_num(col.smoothing, 3))} per bin (a bin was empty on one side)")
    if col.tests:
        extra.append("tests: " + ", ".join(f"{escape(_TESTS.get(k) or k)} p {_p(t.p_value)}" for k, t in col.tests.items()))
    h = col.histogram
    return (f"<div class='card' id='col-{i}'><h3>{_text(col.column)}</h3><div class='sub'>{' · '.join(sub)}</div>"
            + histogram_svg(list(h.labels), list(h.reference), list(h.current))
            + (f"<div class='sub'>{'<br>'.join(extra)}</div>" if extra else "")
            + _quantile_table(col.quantiles, col.kind) + "</div>")


def page(title: str, body: list[str]) -> str:
    """A whole HTML document around ``body`` with the report's stylesheet and script."""
    return "\n".join(["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
                      "<meta name='viewport' content='width=device-width, initial-scale=1'>",
                      f"<title>{title}</title><style>{CSS}</style></head><body>", *body,
                      f"<script>{JS}</script></body></html>"])


def meta_line(c: Any) -> str:
    return (f"<div class='meta'>reference <code>{_text(c.reference)}</code> · current <code>{_text(c.current)}</code>"
            f"<br>metrics with P = current, Q = reference; {c.confidence:.0%} intervals by the delta method; "
            f"p-value of “no change” from the χ² scaling, or from permutations where that is not accurate; smoothing option: <b>{escape(_num(c.smoothing))}</b> "
            "(per column in the table; bins empty in both tables dropped).</div>")


def render_html(comparison: Any) -> str:
    """The report of a :class:`~divergences.tabular.Comparison` as one HTML document."""
    c = comparison
    head = c.headline_metric
    body = ["<h1>Dataset comparison</h1>", meta_line(c), _verdict(c), _quality(c), "<h2>Summary</h2>",
            _summary_table(c, head)]
    if c.information_value:
        body.append(_iv_table(c.information_value))
    body.append(f"<h2>Distributions</h2><div class='legend'>share of rows per bin (hover a bar for the full bin "
                f"label):<span style='background:{REF}'></span>reference<span style='background:{CUR}'></span>"
                "current</div><div class='cols'>")
    body += [_card(i, col, head) for i, col in enumerate(c.columns)]
    body.append("</div>")
    return page(f"divergences: {_text(c.current)} vs {_text(c.reference)}", body)
