"""Small server-rendered SVG charts for the manager dashboard (no JavaScript, no CDN).

Values hidden by the fairness rule (None) leave a gap in a line and an empty bar marked "—".
Confidence intervals are drawn as a band (lines) or whiskers (bars).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777",
           "#4b5563"]


@dataclass(frozen=True)
class Point:
    """One value on a chart: label, value (None: hidden), interval, and how many answers."""

    label: str
    value: float | None
    lo: float | None = None
    hi: float | None = None
    n: int = 0


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def line_chart(series: dict[str, list[Point]], *, title: str, lo: float = 1.0, hi: float = 5.0,
               width: int = 720, height: int = 260) -> str:
    """Trend lines over shared x labels (periods), one per series, with 95 % bands."""
    labels: list[str] = sorted({p.label for pts in series.values() for p in pts})
    left, right, top, bottom = 44, 150, 28, 36
    pw, ph = width - left - right, height - top - bottom
    span = hi - lo or 1.0

    def x(i: int) -> float:
        return left + (pw * (i + 0.5) / max(1, len(labels)))

    def y(v: float) -> float:
        return top + ph * (1 - (v - lo) / span)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart trend" role="img" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           f'<title>{escape(title)}</title>',
           f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>']
    for k in range(int(lo), int(hi) + 1):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{_fmt(y(k))}" y2="{_fmt(y(k))}" '
                   'stroke="#e5e7eb"/>')
        out.append(f'<text x="{left - 8}" y="{_fmt(y(k) + 4)}" text-anchor="end" '
                   f'font-size="11">{k}</text>')
    step = max(1, len(labels) // 12)
    for i, lab in enumerate(labels):
        if i % step == 0:
            out.append(f'<text x="{_fmt(x(i))}" y="{height - 14}" text-anchor="middle" '
                       f'font-size="10">{escape(lab)}</text>')
    index = {lab: i for i, lab in enumerate(labels)}
    for s, (name, pts) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        shown = sorted((p for p in pts if p.value is not None), key=lambda p: index[p.label])
        band = [p for p in shown if p.lo is not None and p.hi is not None]
        if len(band) >= 2:
            upper = " ".join(f"{_fmt(x(index[p.label]))},{_fmt(y(p.hi or 0))}" for p in band)
            lower = " ".join(f"{_fmt(x(index[p.label]))},{_fmt(y(p.lo or 0))}"
                             for p in reversed(band))
            out.append(f'<polygon points="{upper} {lower}" fill="{color}" opacity="0.12"/>')
        # a hidden period breaks the line rather than bridging over it
        segment: list[str] = []
        prev = -2
        for p in shown:
            i = index[p.label]
            if i != prev + 1 and len(segment) > 1:
                out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                           f'points="{" ".join(segment)}"/>')
            if i != prev + 1:
                segment = []
            segment.append(f"{_fmt(x(i))},{_fmt(y(p.value or 0))}")
            prev = i
        if len(segment) > 1:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                       f'points="{" ".join(segment)}"/>')
        for p in shown:
            out.append(f'<circle cx="{_fmt(x(index[p.label]))}" cy="{_fmt(y(p.value or 0))}" '
                       f'r="3" fill="{color}"><title>{escape(name)} {escape(p.label)}: '
                       f'{p.value:.2f} (n={p.n})</title></circle>')
        ly = top + 14 + 18 * s
        out.append(f'<rect x="{left + pw + 12}" y="{ly - 9}" width="10" height="10" '
                   f'fill="{color}"/>')
        out.append(f'<text x="{left + pw + 28}" y="{ly}" font-size="11" class="legend">'
                   f'{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(points: list[Point], *, title: str, lo: float = 1.0, hi: float = 5.0,
              width: int = 720, percent: bool = False) -> str:
    """Horizontal bars (one per group) with 95 % whiskers; hidden groups show "—"."""
    row, left, right, top = 26, 130, 70, 30
    height = top + row * max(1, len(points)) + 12
    pw = width - left - right
    span = hi - lo or 1.0

    def x(v: float) -> float:
        return left + pw * (min(max(v, lo), hi) - lo) / span

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" role="img" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           f'<title>{escape(title)}</title>',
           f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>']
    for i, p in enumerate(points):
        cy = top + row * i + row / 2
        out.append(f'<text x="{left - 8}" y="{_fmt(cy + 4)}" text-anchor="end" font-size="12">'
                   f'{escape(p.label)}</text>')
        if p.value is None:
            out.append(f'<text x="{left + 4}" y="{_fmt(cy + 4)}" font-size="12" fill="#6b7280" '
                       f'class="hidden-value">— (n={p.n})</text>')
            continue
        out.append(f'<rect x="{left}" y="{_fmt(cy - 8)}" width="{_fmt(x(p.value) - left)}" '
                   f'height="16" fill="{PALETTE[0]}" data-label="{escape(p.label)}">'
                   f'<title>{escape(p.label)}: {p.value:.2f} (n={p.n})</title></rect>')
        if p.lo is not None and p.hi is not None:
            out.append(f'<line x1="{_fmt(x(p.lo))}" x2="{_fmt(x(p.hi))}" y1="{_fmt(cy)}" '
                       f'y2="{_fmt(cy)}" stroke="#111827" stroke-width="1.5"/>')
        shown = f"{p.value * 100:.0f}%" if percent else f"{p.value:.2f}"
        out.append(f'<text x="{_fmt(left + pw + 6)}" y="{_fmt(cy + 4)}" font-size="12">'
                   f'{shown}</text>')
    out.append("</svg>")
    return "".join(out)
