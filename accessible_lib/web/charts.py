"""Bar charts of daily figures as SVG, drawn on the server: no script, no library, nothing to load.

A chart is for those who see it; everyone gets the same figures in the table the page puts after it
(templates/_chart.html). So the SVG is one image to assistive technology (role="img"), named by its
<title> and summarised by its <desc> (the range, the highest and the lowest day), and its bars and labels
are not read one by one. Colours come from the page (currentColor), so the chart follows dark mode and
Windows' forced colours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..i18n import gettext
from ..stats_report import number

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 36


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    desc: str
    caption: str
    value_heading: str
    rows: list[tuple[str, str]]  # (day, figure as shown) for the table
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) of the value axis
    first_day: str
    last_day: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM
    right: int = WIDTH - RIGHT


def _nice_ceiling(value: float) -> float:
    """The top of the value axis: 1, 2, 2.5 or 5 times a power of ten, at or above `value`."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def bar_chart(chart_id: str, title: str, value_heading: str, days: list[str], values: list[float]) -> Chart:
    top = _nice_ceiling(max(values, default=0))
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    gap = min(4.0, slot * 0.2)
    bars = [
        Bar(
            x=round(LEFT + i * slot + gap / 2, 2),
            y=round(TOP + plot_height * (1 - value / top), 2),
            width=round(slot - gap, 2),
            height=round(plot_height * value / top, 2),
        )
        for i, value in enumerate(values)
    ]
    ticks = [(round(TOP + plot_height * (1 - f), 2), number(round(top * f, 2))) for f in (0, 0.5, 1)]
    if values and max(values) > 0:
        high = max(range(len(values)), key=lambda i: values[i])
        low = min(range(len(values)), key=lambda i: values[i])
        desc = gettext(
            "From %(first)s to %(last)s. Highest: %(high)s on %(high_day)s. Lowest: %(low)s on %(low_day)s. "
            "The table after the chart gives every day’s figure.",
            first=days[0],
            last=days[-1],
            high=number(values[high]),
            high_day=days[high],
            low=number(values[low]),
            low_day=days[low],
        )
    else:
        desc = gettext("From %(first)s to %(last)s: none on any day.", first=days[0], last=days[-1])
    return Chart(
        id=chart_id,
        title=title,
        desc=desc,
        caption=gettext("%(figure)s per day", figure=title),
        value_heading=value_heading,
        rows=[(day, number(value)) for day, value in zip(days, values, strict=True)],
        bars=bars,
        ticks=ticks,
        first_day=days[0],
        last_day=days[-1],
    )
