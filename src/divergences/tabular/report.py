"""The HTML report (one self-contained file: no CDN, no network) and atomic file writes.

The summary table sorts on a click on any header; each column gets overlaid reference/current
histograms drawn as inline SVG from the bin counts (never from raw data, so a thousand columns
stay light). Every name and category is HTML-escaped.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from .._safe_write import write_atomic

__all__ = ["render_html", "write_atomic"]


def _num(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def _sort_key(x: Any) -> str:
    if isinstance(x, bool):
        return str(int(x))
    if isinstance(x, (int, float)):
        return "" if isinstance(x, float) and math.isnan(x) else ("1e308" if x == math.inf else repr(float(x)))
    return escape(str(x), quote=True)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.meta{color:#57606a;font-size:13px;margin-bottom:16px}.meta code{background:#f3f4f6;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:right}
th{background:#f6f8fa;cursor:pointer;user-select:none;position:sticky;top:0}th:first-child,td:first-child{text-align:left}
th.sorted-asc::after{content:" ▲"}th.sorted-desc::after{content:" ▼"}
tr.drift td{background:#fff1f0}.band-significant{color:#b42318;font-weight:600}.band-moderate{color:#b54708}
.band-stable{color:#067647}.ci{color:#57606a;font-size:11px}
.cols{display:flex;flex-wrap:wrap;gap:16px}.card{border:1px solid #e5e7eb;border-radius:6px;padding:8px 10px;width:380px}
.card h3{font-size:14px;margin:0 0 4px;overflow-wrap:anywhere}.card .sub{font-size:12px;color:#57606a}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:middle}
"""

_JS = """
(function(){
  var table=document.getElementById('summary');
  if(!table){return;}
  var heads=table.tHead.rows[0].cells;
  function sortBy(i){
    var body=table.tBodies[0], rows=Array.prototype.slice.call(body.rows);
    var asc=!heads[i].classList.contains('sorted-asc');
    for(var j=0;j<heads.length;j++){heads[j].classList.remove('sorted-asc','sorted-desc');}
    heads[i].classList.add(asc?'sorted-asc':'sorted-desc');
    rows.sort(function(a,b){
      var x=a.cells[i].getAttribute('data-v'), y=b.cells[i].getAttribute('data-v');
      var nx=parseFloat(x), ny=parseFloat(y), c;
      if(x===''&&y===''){c=0;}else if(x===''){c=1;}else if(y===''){c=-1;}
      else if(!isNaN(nx)&&!isNaN(ny)){c=nx-ny;}else{c=x<y?-1:(x>y?1:0);}
      return asc?c:-c;
    });
    rows.forEach(function(r){body.appendChild(r);});
  }
  for(var i=0;i<heads.length;i++){(function(i){heads[i].addEventListener('click',function(){sortBy(i);});})(i);}
})();
"""

_REF, _CUR = "#4c78a8", "#f58518"


def _histogram_svg(labels: list[str], ref: list[int], cur: list[int]) -> str:
    """Overlaid bars of the reference and current shares per bin (inline SVG)."""
    w, h, pad_l, pad_b = 360, 150, 34, 18
    nr, nc = max(sum(ref), 1), max(sum(cur), 1)
    pr = [x / nr for x in ref]
    pc = [x / nc for x in cur]
    top = max(pr + pc + [1e-12])
    k = len(labels)
    slot = (w - pad_l) / k
    bar = max(slot * 0.42, 1.0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">']
    parts.append(f'<line x1="{pad_l}" y1="{h - pad_b}" x2="{w}" y2="{h - pad_b}" stroke="#8c959f"/>')
    parts.append(f'<text x="{pad_l - 4}" y="10" font-size="9" text-anchor="end" fill="#57606a">{top:.0%}</text>')
    for i, lab in enumerate(labels):
        x0 = pad_l + i * slot + slot * 0.08
        for j, (share, color) in enumerate(((pr[i], _REF), (pc[i], _CUR))):
            bh = (h - pad_b - 12) * share / top
            tip = f"{escape(lab)} · {'reference' if j == 0 else 'current'}: {share:.1%}"
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{h - pad_b - bh:.1f}" width="{bar:.1f}" height="{bh:.1f}" '
                         f'fill="{color}" fill-opacity="0.8"><title>{tip}</title></rect>')
        if i % math.ceil(k / 6) == 0:  # at most six labels, shortened, so they never overlap
            short = lab if len(lab) <= 12 else lab[:11] + "…"
            parts.append(f'<text x="{x0:.1f}" y="{h - 5}" font-size="8" text-anchor="start" '
                         f'fill="#57606a">{escape(short)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: Any, text: str | None = None, cls: str = "") -> str:
    """A table cell whose sort key is ``value`` and whose content is ``text`` (HTML) or the value."""
    c = f' class="{cls}"' if cls else ""
    return f'<td data-v="{_sort_key(value)}"{c}>{text if text is not None else escape(_num(value))}</td>'


def render_html(comparison: Any) -> str:
    """The report of a :class:`~divergences.tabular.Comparison` as one HTML document."""
    c = comparison
    first, others = c.metrics[0], c.metrics[1:]
    heads = ["column", "kind", "bins", "rows ref", "rows cur", "missing ref → cur", first,
             f"{c.confidence:.0%} interval", "p-value", "band", *others, "drift"]
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           "<meta name='viewport' content='width=device-width, initial-scale=1'>",
           f"<title>divergences: {escape(str(c.current))} vs {escape(str(c.reference))}</title>",
           f"<style>{_CSS}</style></head><body>",
           "<h1>Dataset comparison</h1>",
           f"<div class='meta'>reference <code>{escape(str(c.reference))}</code> · current "
           f"<code>{escape(str(c.current))}</code><br>metrics with P = current, Q = reference; "
           f"{c.confidence:.0%} intervals by the delta method; p-value of “no change” from the χ² scaling; "
           f"smoothing: <b>{_num(c.smoothing)}</b> pseudo-count per bin (bins empty in both tables dropped); "
           f"drift rule: <b>{escape(c.drift_rule)}</b>. "
           f"{len(c.drifted)} of {len(c.rows)} columns drifted.</div>",
           "<h2>Summary</h2><table id='summary'><thead><tr>",
           "".join(f"<th title='sort'>{escape(h)}</th>" for h in heads), "</tr></thead><tbody>"]
    for i, r in enumerate(c.rows):
        cells = [_cell(r["column"], f"<a href='#col-{i}'>{escape(str(r['column']))}</a>"),
                 _cell(r["kind"]), _cell(r["bins"]), _cell(r["n_reference"]), _cell(r["n_current"]),
                 _cell(r["missing_current"] - r["missing_reference"],
                       f"{r['missing_reference']:.1%} → {r['missing_current']:.1%}"),
                 _cell(r[first]),
                 _cell(r[first + "_ci_low"], f"[{_num(r[first + '_ci_low'], 3)}, {_num(r[first + '_ci_high'], 3)}]",
                       "ci"),
                 _cell(r[first + "_p_value"], escape(_num(r[first + "_p_value"], 2))),
                 _cell(r.get(first + "_band") or "", cls=f"band-{r.get(first + '_band') or 'none'}")]
        for m in others:
            tip = f"{m} {_num(r[m])}, interval [{_num(r[m + '_ci_low'])}, {_num(r[m + '_ci_high'])}], " \
                  f"p-value {_num(r[m + '_p_value'], 2)}"
            cells.append(_cell(r[m], f"<span title='{escape(tip, quote=True)}'>{escape(_num(r[m], 3))}</span>"))
        cells.append(_cell(r["drifted"], "drift" if r["drifted"] else ""))
        out.append(f"<tr class='{'drift' if r['drifted'] else ''}'>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if c.information_value:
        out.append("<h2>Information value (target)</h2><table id='iv'><thead><tr>")
        out.append("".join(f"<th>{h}</th>" for h in ("table", "feature", "IV", "interval", "band", "goods", "bads")))
        out.append("</tr></thead><tbody>")
        for r in c.information_value:
            out.append("<tr>" + "".join(_cell(x) for x in (r["table"], r["feature"], r["iv"]))
                       + _cell(r["iv_ci_low"], f"[{_num(r['iv_ci_low'])}, {_num(r['iv_ci_high'])}]")
                       + _cell(r["iv_band"]) + _cell(r["n_good"]) + _cell(r["n_bad"]) + "</tr>")
        out.append("</tbody></table>")
    out.append(f"<h2>Distributions</h2><div class='legend'>share of rows per bin:<span style='background:{_REF}'>"
               f"</span>reference<span style='background:{_CUR}'></span>current</div><div class='cols'>")
    for i, r in enumerate(c.rows):
        hist = c.histograms[r["column"]]
        out.append(f"<div class='card' id='col-{i}'><h3>{escape(str(r['column']))}</h3>"
                   f"<div class='sub'>{escape(r['kind'])} · {first} {escape(_num(r[first]))} "
                   f"[{escape(_num(r[first + '_ci_low']))}, {escape(_num(r[first + '_ci_high']))}]"
                   f"{' · drift' if r['drifted'] else ''}</div>"
                   + _histogram_svg(hist["labels"], hist["reference"], hist["current"]) + "</div>")
    out.append(f"</div><script>{_JS}</script></body></html>")
    return "\n".join(out)
