"""The Usage page's chart: tokens per day, one stacked colour per config, as server-made SVG.

Plain SVG with presentation attributes (no script, no inline style: the page's CSP allows
neither), every label escaped, a <title> on each bar for the exact figure, and a legend. No
chart library and nothing from a CDN.
"""

from __future__ import annotations

from html import escape

from rolecall.services.usage import DailyTokens

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
# Colour-blind-safe palette (Okabe & Ito, without its black: the page is dark), then greys.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#BBBBBB", "#999999", "#777777")


def _nice_top(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 10
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _short(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g}M"
    if n >= 1000:
        return f"{n / 1000:g}K"
    return str(n)


def render(data: DailyTokens) -> str:
    """The chart as an ``<svg>`` element (text)."""
    days = data.days
    series = sorted(data.series.items(), key=lambda item: -sum(item[1]))
    totals = [sum(values[n] for _, values in series) for n in range(len(days))]
    top = _nice_top(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar = max(1.0, slot * 0.7)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-labelledby="usage-chart-title" class="usage-chart">',
             '<title id="usage-chart-title">Tokens per day by config</title>']
    for tick in range(5):
        value = top * tick // 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" stroke-opacity="0.18"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="currentColor" '
                     f'fill-opacity="0.7">{_short(value)}</text>')
    label_every = max(1, len(days) // 10)
    for n, day in enumerate(days):
        x = LEFT + n * slot + (slot - bar) / 2
        base: float = TOP + plot_h
        for index, ((_, label), values) in enumerate(series):
            tokens = values[n]
            if not tokens:
                continue
            height = plot_h * tokens / top
            base -= height
            parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                         f'fill="{COLOURS[index % len(COLOURS)]}"><title>{escape(label)}: {tokens:,} tokens on '
                         f'{day.isoformat()}</title></rect>')
        if n % label_every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle" font-size="11" '
                         f'fill="currentColor" fill-opacity="0.7">{day:%b} {day.day}</text>')
    parts.append("</svg>")
    return "".join(parts)


def legend(data: DailyTokens) -> list[tuple[str, str, int]]:
    """(colour, config label, total tokens) in the chart's stacking order."""
    series = sorted(data.series.items(), key=lambda item: -sum(item[1]))
    return [(COLOURS[i % len(COLOURS)], label, sum(values)) for i, ((_, label), values) in enumerate(series)]
