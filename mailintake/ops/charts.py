"""The charts of the monthly statistics (issue 14), drawn by matplotlib (Agg,
no pyplot state) as PNG: applications per working day stacked by service,
the on-time shares month by month over the 12 months ending with the report
month, and working days to finish per service (median and 90th percentile).

Labels are Thai then English. Thai is set in Sarabun (the permits' font,
registered with matplotlib's font manager once); matplotlib 3.11 lays text
out with libraqm, so tone marks stack over their consonants. Settings go
through ``rc_context``: nothing global changes. A chart with nothing to draw
says so in words ("ไม่มีข้อมูล / No data") instead of drawing an empty frame.

With many services: each gets its own colour (``style_of``: 18 distinct
colours, then the same again hatched), the legend sits below the plot in as
many rows as its labels need (``_legend_below`` narrows its columns until it
fits the figure's width, and the figure grows by its height), and the
days-to-finish chart grows by a row per service. Nothing is cut at the edges.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FONTS = Path(__file__).resolve().parent.parent / "permits" / "fonts"
FAMILY = "Sarabun"
NO_DATA = "ไม่มีข้อมูลในเดือนนี้ / No data this month"
TH_SHORT_MONTHS = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.")
EN_SHORT_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Colour-blind safe (Okabe-Ito) first, then matplotlib's tab20 less its greys (which
# would read as the grid): one a service in the order services are listed.
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#8C564B", "#9467BD",
    "#17BECF", "#BCBD22", "#D62728", "#98DF8A", "#FF9896", "#C5B0D5", "#C49C94", "#F7B6D2", "#DBDB8D",
)  # fmt: skip
HATCHES = ("", "//", "..", "xx", "\\\\", "++")
STYLE: Any = {  # matplotlib rc keys (its stubs type them as literals)
    "font.family": [FAMILY, "DejaVu Sans"],
    "font.size": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#dddddd",
    "savefig.dpi": 110,
}
_registered = False


def _register_fonts() -> None:
    global _registered
    if _registered:
        return
    from matplotlib import font_manager

    for path in sorted(FONTS.glob("Sarabun-*.ttf")):
        font_manager.fontManager.addfont(str(path))
    _registered = True


@contextmanager
def _figure(width: float = 8.0, height: float = 4.5) -> Iterator[Any]:
    """A figure of its own (no pyplot), inside the charts' style."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: saved as PNG, it draws with Agg

    _register_fonts()
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
        yield fig


def style_of(i: int) -> tuple[str, str]:
    """The colour and hatch of the ``i``-th series: distinct for 18 x 6."""
    return PALETTE[i % len(PALETTE)], HATCHES[(i // len(PALETTE)) % len(HATCHES)]


def _legend_below(fig: Any, ncols: int = 3) -> Any:
    """The figure's legend below its plot, in as few columns (of at most
    ``ncols``) as fit its width; the figure grows by the legend's height."""
    width, height = fig.get_size_inches()
    handles, labels = fig.axes[0].get_legend_handles_labels()
    legend = None
    for cols in range(min(ncols, len(labels)), 0, -1):
        if legend is not None:
            legend.remove()
        legend = fig.legend(handles, labels, loc="outside lower center", fontsize=9, frameon=False, ncols=cols)
        fig.draw_without_rendering()
        if legend.get_window_extent().width <= fig.bbox.width * 0.98:
            break
    assert legend is not None
    fig.set_size_inches(width, height + legend.get_window_extent().height / fig.dpi)
    return legend


def _no_data(fig: Any, title: str) -> None:
    fig.suptitle(title, fontsize=13)
    fig.text(0.5, 0.5, NO_DATA, ha="center", va="center", fontsize=14, color="#555555")


def _service_label(services: dict[str, Any], sid: str) -> str:
    s = services.get(sid) or {}
    return f"{s.get('name_th', sid)} / {s.get('code', sid)}"


def per_day(data: dict[str, Any], path: Path) -> bool:
    """Applications received per working day, stacked by service; returns
    whether anything was drawn."""
    days = data["received"]["by_day"]
    services = sorted(data["received"]["by_service"])
    title = "คำขอที่ได้รับรายวันทำการ / Applications received per working day"
    with _figure() as fig:
        if not data["received"]["total"]:
            _no_data(fig, title)
            fig.savefig(path)
            return False
        ax = fig.add_subplot()
        xs = list(range(len(days)))
        bottom = [0] * len(days)
        for i, sid in enumerate(services):
            heights = [d["by_service"].get(sid, 0) for d in days]
            colour, hatch = style_of(i)
            ax.bar(
                xs, heights, bottom=bottom, color=colour, hatch=hatch, edgecolor="white", linewidth=0.5,
                label=_service_label(data["services"], sid),
            )  # fmt: skip
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.set_xticks(xs, [d["day"][8:10].lstrip("0") for d in days])
        ax.set_xlabel("วันที่ / Day of the month")
        ax.set_ylabel("คำขอ / Applications")
        ax.yaxis.get_major_locator().set_params(integer=True)
        fig.suptitle(f"{title}\n{data['month_names']['th']} / {data['month_names']['en']}", fontsize=13)
        _legend_below(fig)
        fig.savefig(path)
    return True


def trend(data: dict[str, Any], path: Path) -> bool:
    """The share acknowledged on time and finished within time, month by month
    over 12 months, as bars side by side (none where a month has nothing to share)."""
    points = data["trend"]
    title = "ร้อยละที่ทันกำหนด 12 เดือน / On time, last 12 months"
    series = (
        ("acks_on_time_percent", "ตอบรับทันกำหนด / Acknowledged on time", PALETTE[0]),
        ("finished_within_time_percent", "แล้วเสร็จภายในเวลา / Finished within time", PALETTE[1]),
    )
    with _figure() as fig:
        if all(p[key] is None for p in points for key, *_ in series):
            _no_data(fig, title)
            fig.savefig(path)
            return False
        ax = fig.add_subplot()
        xs = list(range(len(points)))
        width = 0.4
        for i, (key, label, colour) in enumerate(series):
            shift = (i - 0.5) * width
            ys = [0.0 if p[key] is None else p[key] for p in points]
            bars = ax.bar([x + shift for x in xs], ys, width, color=colour, label=label)
            ax.bar_label(bars, labels=["" if p[key] is None else f"{p[key]:g}" for p in points], fontsize=8, padding=2)
        labels = []
        for p in points:
            year, mon = (int(x) for x in p["month"].split("-"))
            labels.append(f"{TH_SHORT_MONTHS[mon - 1]} {(year + 543) % 100:02d}\n{EN_SHORT_MONTHS[mon - 1]} {year % 100:02d}")
        ax.set_xticks(xs, labels, fontsize=9)
        ax.set_ylim(0, 112)
        ax.set_ylabel("ร้อยละ / Percent")
        fig.suptitle(title, fontsize=13)
        _legend_below(fig, 2)
        fig.savefig(path)
    return True


def days_to_finish(data: dict[str, Any], path: Path) -> bool:
    """Working days to finish per service: median and 90th percentile bars,
    the citizen manual's time limit named beside each; a bar of 0 days
    (finished the day it was received) is a thin one labelled "0", not a gap."""
    by_service = data["finished"]["by_service"]
    title = "วันทำการที่ใช้จนแล้วเสร็จ / Working days to finish"
    with _figure(height=max(4.5, 1.9 + 0.62 * len(by_service))) as fig:
        if not by_service:
            _no_data(fig, title)
            fig.savefig(path)
            return False
        ax = fig.add_subplot()
        ax.grid(axis="x", color="#dddddd")
        ax.grid(axis="y", visible=False)
        sids = sorted(by_service, reverse=True)  # top to bottom in the other charts' order
        ys = list(range(len(sids)))
        height = 0.38
        medians = [by_service[s]["days_median"] or 0 for s in sids]
        p90s = [by_service[s]["days_p90"] or 0 for s in sids]
        top = max([*p90s, *medians, 1]) + 1
        least = top * 0.012  # a bar of 0 days (finished the same day) is drawn this wide, and labelled "0"
        for shift, values, colour, label in (
            (height / 2, medians, PALETTE[2], "มัธยฐาน / Median"),
            (-height / 2, p90s, PALETTE[3], "เปอร์เซ็นไทล์ที่ 90 / 90th percentile"),
        ):
            at = [y + shift for y in ys]
            ax.barh(at, [v or least for v in values], height, color=colour, label=label)
            for y, v in zip(at, values, strict=True):
                if not v:
                    ax.annotate("0", (least, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=9)
        names = []
        for s in sids:
            n, limits = by_service[s]["finished"], by_service[s].get("limit_days") or []
            limit = "/".join(str(x) for x in limits) or "-"
            days = "day" if limits == [1] else "days"
            names.append(
                f"{_service_label(data['services'], s)}\n{n} รายการ กำหนด {limit} วัน / {n} finished, limit {limit} {days}"
            )
        ax.set_yticks(ys, names, fontsize=9)
        ax.set_xlabel("วันทำการ / Working days")
        ax.set_xlim(0, top)
        ax.xaxis.get_major_locator().set_params(integer=True)
        fig.suptitle(f"{title}\n{data['month_names']['th']} / {data['month_names']['en']}", fontsize=13)
        _legend_below(fig, 2)
        fig.savefig(path)
    return True


CHARTS = (
    ("per_day.png", per_day, "คำขอรายวันทำการ", "Applications per working day"),
    ("trend.png", trend, "ร้อยละที่ทันกำหนด 12 เดือน", "On time over 12 months"),
    ("days_to_finish.png", days_to_finish, "วันทำการที่ใช้จนแล้วเสร็จ", "Working days to finish"),
)


def draw_all(data: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """Every chart into ``folder``: file name, Thai and English title,
    whether data was drawn (False: the chart says "no data") and its size in pixels."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, draw, th, en in CHARTS:
        drawn = draw(data, folder / name)
        with Image.open(folder / name) as image:
            width, height = image.size
        out.append({"file": name, "title_th": th, "title_en": en, "drawn": drawn, "width": width, "height": height})
    return out
