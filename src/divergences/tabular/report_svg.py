"""Inline SVG charts of the HTML report, drawn from summaries only (bin counts, per-window estimates).

* :func:`histogram_svg`: reference and current shares per bin side by side; hovering a bar shows the
  full bin label and both shares (axis labels are shortened, never the tooltips);
* :func:`timeline_svg`: a metric per time window with its interval as a band, the drift threshold
  as a dashed line, and drifted windows marked.

Every text from the data is HTML-escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["CUR", "REF", "histogram_svg", "timeline_svg"]

REF, CUR = "#4c78a8", "#f58518"


def _short(label: str, n: int = 12) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def histogram_svg(labels: Sequence[str], ref: Sequence[int], cur: Sequence[int], *, small: bool = False) -> str:
    """Bars of the reference and current shares per bin (inline SVG, tooltips with the full labels);
    ``small``: a 140 × 44 thumbnail without axis labels (the notebook's small multiples)."""
    w, h, pad_l, pad_b = (140, 44, 2, 2) if small else (380, 150, 34, 18)
    nr, nc = max(sum(ref), 1), max(sum(cur), 1)
    pr = [x / nr for x in ref]
    pc = [x / nc for x in cur]
    top = max(pr + pc + [1e-12])
    k = max(len(labels), 1)
    slot = (w - pad_l) / k
    bar = max(slot * 0.42, 1.0)
    parts = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" class="hist">',
             f'<line x1="{pad_l}" y1="{h - pad_b}" x2="{w}" y2="{h - pad_b}" stroke="#8c959f"/>',
             "" if small else
             f'<text x="{pad_l - 4}" y="10" font-size="9" text-anchor="end" fill="#57606a">{top:.0%}</text>']
    step = math.ceil(k / 6)
    for i, lab in enumerate(labels):
        x0 = pad_l + i * slot + slot * 0.08
        full = escape(str(lab))
        tip = f"{full}: reference {pr[i]:.1%} ({ref[i]}), current {pc[i]:.1%} ({cur[i]})"
        parts.append(f'<g class="bin"><title>{tip}</title>')
        parts.append(f'<rect x="{pad_l + i * slot:.1f}" y="0" width="{slot:.1f}" height="{h - pad_b}" '
                     f'fill="#000" fill-opacity="0"/>')  # the whole slot shows the tooltip
        for j, (share, color) in enumerate(((pr[i], REF), (pc[i], CUR))):
            bh = (h - pad_b - (2 if small else 12)) * share / top
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{h - pad_b - bh:.1f}" width="{bar:.1f}" '
                         f'height="{bh:.1f}" fill="{color}" fill-opacity="0.85"/>')
        if i % step == 0 and not small:  # at most six axis labels, shortened so they never overlap
            parts.append(f'<text x="{x0:.1f}" y="{h - 5}" font-size="8" fill="#57606a">{escape(_short(str(lab)))}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _finite(xs: Sequence[float]) -> list[float]:
    return [x for x in xs if x is not None and isinstance(x, (int, float)) and math.isfinite(x)]


def timeline_svg(windows: Sequence[str], value: Sequence[float], low: Sequence[float], high: Sequence[float],
                 drifted: Sequence[bool], *, threshold: float | None = None, metric: str = "") -> str:
    """The metric per window (line and points), its interval (band), the threshold (dashed)."""
    w, h, pad_l, pad_b, pad_t = 380, 160, 40, 22, 10
    n = len(windows)
    ys = _finite([*value, *low, *high] + ([threshold] if threshold is not None else []))
    top = max(ys + [1e-12]) * 1.05
    bottom = min(ys + [0.0])
    span = (top - bottom) or 1.0
    slot = (w - pad_l - 30) / max(n - 1, 1)  # room for the last label, centred on its point

    def x(i: int) -> float:
        return pad_l + (i * slot if n > 1 else (w - pad_l) / 2)

    def y(v: float) -> float:
        return pad_t + (h - pad_t - pad_b) * (1 - (v - bottom) / span)

    parts = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" class="timeline">',
             f'<line x1="{pad_l}" y1="{h - pad_b}" x2="{w}" y2="{h - pad_b}" stroke="#8c959f"/>',
             f'<text x="{pad_l - 4}" y="{pad_t + 4}" font-size="9" text-anchor="end" fill="#57606a">{top:.3g}</text>',
             f'<text x="{pad_l - 4}" y="{h - pad_b}" font-size="9" text-anchor="end" fill="#57606a">{bottom:.3g}</text>']
    # the interval band: one polygon over the windows whose bounds are finite
    ok = [i for i in range(n) if _finite([low[i], high[i]]) and len(_finite([low[i], high[i]])) == 2]
    if len(ok) >= 2:
        pts = [f"{x(i):.1f},{y(high[i]):.1f}" for i in ok] + [f"{x(i):.1f},{y(low[i]):.1f}" for i in reversed(ok)]
        parts.append(f'<polygon points="{" ".join(pts)}" fill="{REF}" fill-opacity="0.18" class="band"/>')
    if threshold is not None and math.isfinite(threshold):
        parts.append(f'<line x1="{pad_l}" y1="{y(threshold):.1f}" x2="{w}" y2="{y(threshold):.1f}" stroke="#b42318" '
                     f'stroke-dasharray="4 3" class="threshold"><title>threshold {threshold:g}</title></line>')
    line = [f"{x(i):.1f},{y(value[i]):.1f}" for i in range(n) if _finite([value[i]])]
    if len(line) >= 2:
        parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="{REF}" stroke-width="1.5"/>')
    step = math.ceil(n / 5) if n else 1
    for i in range(n):
        label = escape(str(windows[i]))
        if _finite([value[i]]):
            tip = (f"{label}: {escape(metric)} {value[i]:.4g} [{_fmt(low[i])}, {_fmt(high[i])}]"
                   f"{' · drift' if drifted[i] else ''}")
            color = "#b42318" if drifted[i] else REF
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(value[i]):.1f}" r="{4 if drifted[i] else 2.5}" '
                         f'fill="{color}" class="{"drift" if drifted[i] else "point"}"><title>{tip}</title></circle>')
        if i % step == 0:
            parts.append(f'<text x="{x(i):.1f}" y="{h - 6}" font-size="8" text-anchor="middle" fill="#57606a">'
                         f'{escape(_short(str(windows[i]), 11))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _fmt(v) -> str:
    if v is None or not isinstance(v, (int, float)) or math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.4g}"
