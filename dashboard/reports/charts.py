"""Server-side SVG charts: geometry computed here, drawn by the chart macro of templates/reports/_macros.html.

No script and no style attributes (the CSP allows neither): colours come from
classes in static/app.css, hover text from <title> elements.
"""
import math
from dataclasses import dataclass
from dataclasses import field

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 84, 14, 14, 40
MAX_X_LABELS = 10
SERIES_CLASSES = ("s0", "s1", "s2", "s3", "s4", "s5")


@dataclass
class Chart:
    """What the chart template draws; coordinates are in the viewBox."""
    title: str
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    y_ticks: list = field(default_factory=list)
    x_labels: list = field(default_factory=list)
    legend: list = field(default_factory=list)
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    baseline: float = HEIGHT - BOTTOM
    empty: bool = False
    x_title: str = "Move date"     # the axis titles, drawn beside the SVG (readable at any size)
    y_title: str = ""


def nice_ceiling(value):
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above value (1 for nothing)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _x_slots(count):
    plot = WIDTH - LEFT - RIGHT
    slot = plot / max(count, 1)
    return slot, [LEFT + slot * (i + 0.5) for i in range(count)]


def _y(value, top_value):
    plot = HEIGHT - TOP - BOTTOM
    return HEIGHT - BOTTOM - plot * (value / top_value)


def _axes(chart, days, top_value, tick_label):
    _slot, centres = _x_slots(len(days))
    every = max(1, math.ceil(len(days) / MAX_X_LABELS))
    labelled = [i for i in range(len(days)) if i % every == 0]
    # Every other label is marked so a phone, where the chart is half size, can drop it.
    chart.x_labels = [{"x": round(centres[i], 1), "label": f"{days[i]:%b} {days[i].day}", "alt": n % 2 == 1}
                      for n, i in enumerate(labelled)]
    chart.y_ticks = [{"y": round(_y(top_value * k / 4, top_value), 1), "label": tick_label(top_value * k / 4)}
                     for k in range(5)]
    return centres


def _series_class(index, item):
    """A series' colour class: its own third element when given, else by position."""
    return item[2] if len(item) > 2 else SERIES_CLASSES[index % len(SERIES_CLASSES)]


def stacked_bars(title, description, days, series, tick_label, value_label, y_title=""):
    """A bar per day, stacked by series [(label, [value per day][, class])]; hover text via value_label."""
    chart = Chart(title, description, y_title=y_title)
    totals = [sum(item[1][i] for item in series) for i in range(len(days))]
    chart.empty = not any(totals)
    top_value = nice_ceiling(max(totals, default=0))
    centres = _axes(chart, days, top_value, tick_label)
    slot, _ = _x_slots(len(days))
    width = max(slot * 0.72, 1)
    for i, day in enumerate(days):
        base = 0
        for index, item in enumerate(series):
            label, value = item[0], item[1][i]
            if not value:
                continue
            y_top, y_bottom = _y(base + value, top_value), _y(base, top_value)
            chart.bars.append({"x": round(centres[i] - width / 2, 1), "y": round(y_top, 1), "w": round(width, 1),
                               "h": round(max(y_bottom - y_top, 0.5), 1), "cls": _series_class(index, item),
                               "title": f"{day:%a %b} {day.day}: {label} {value_label(value)}"})
            base += value
    chart.legend = [{"cls": _series_class(i, item), "label": item[0]} for i, item in enumerate(series)]
    return chart


def lines(title, description, days, series, tick_label, value_label, floor_top=1.0, y_title=""):
    """A line per series [(label, [value or None per day])]; gaps where a value is None."""
    chart = Chart(title, description, y_title=y_title, x_title="Day")
    values = [v for _label, vals in series for v in vals if v is not None]
    chart.empty = not any(values)
    top_value = nice_ceiling(max(values + [floor_top]))
    centres = _axes(chart, days, top_value, tick_label)
    for index, (label, vals) in enumerate(series):
        cls = SERIES_CLASSES[index % 6]
        segment, points = [], []
        for i, value in enumerate(vals):
            if value is None:
                if segment:
                    chart.lines.append({"cls": cls, "points": " ".join(segment)})
                segment = []
                continue
            x, y = round(centres[i], 1), round(_y(value, top_value), 1)
            segment.append(f"{x},{y}")
            points.append({"x": x, "y": y, "cls": cls, "title": f"{days[i]:%a %b} {days[i].day}: {label} "
                                                                f"{value_label(value)}"})
        if segment:
            chart.lines.append({"cls": cls, "points": " ".join(segment)})
        chart.bars.extend({"dot": True, **point} for point in points)
    chart.legend = [{"cls": SERIES_CLASSES[i % 6], "label": label} for i, (label, _vals) in enumerate(series)]
    return chart


def money_tick(value):
    """$0, $950, $12k, $1.2M for axis labels."""
    if value >= 1_000_000:
        return f"${value / 1_000_000:.3g}M"
    if value >= 1000:
        return f"${value / 1000:.3g}k"
    return f"${value:.0f}"


def count_tick(value):
    return f"{value:g}"


def percent_tick(value):
    return f"{value * 100:.0f}%"
