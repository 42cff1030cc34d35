"""``mailintake calendar``: the working-day calendar (R2), and the office's own
list of holidays (``[hours] holidays_file``) that the Cabinet's yearly
announcements are imported into."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from mailintake.base import holidaylist
from mailintake.base.calendar import WorkCalendar, year_view
from mailintake.cli.common import config, deployment, moment, now_option
from mailintake.cli.output import json_option, print_json
from mailintake.desk.roles import require


@click.group()
def calendar() -> None:
    """The working-day calendar: holidays by name and source; import (R2).

    Example: mailintake calendar show --year 2026
    """


@calendar.command("show")
@click.option("--year", type=click.IntRange(1950, 2100), help="The year to show (default: this year).")
@json_option
@click.pass_context
def show(ctx: click.Context, year: int | None, as_json: bool) -> None:
    """List the closed days of a year: the weekend, then each holiday with its Thai and English name and source.

    Sources: the holidays package (and its category), config [hours]
    extra_holidays, or the office's list in [hours] holidays_file (imported or
    written by hand). Days the package has that this calendar does not keep
    ([hours] calendar) and extra working days are listed too.

    Example: mailintake calendar show --year 2026 --json
    """
    cfg = config(ctx)
    cal = WorkCalendar(cfg.hours)
    data = year_view(cal, year or datetime.now(cfg.hours.timezone).year)
    if as_json:
        print_json(data)
        return
    for line in show_lines(data):
        click.echo(line)


def show_lines(data: dict[str, Any]) -> list[str]:
    weekend = data["weekend"]
    lines = [
        f"Working-day calendar {data['year']}: {data['calendar']} ({data['package']}: {' + '.join(data['categories'])}"
        f"{', less National Labour Day' if data['not_kept'] else ''}; own list {data['holidays_file']})",
        f"Weekend: {', '.join(weekend['weekdays']) or 'none'} ({weekend['days']} days); "
        f"{data['working_days_total']} working days",
        f"Holidays ({len(data['holidays'])}):",
    ]

    def row(h: dict[str, Any], note: str = "") -> str:
        names = h["name_th"] if h["name_th"] == h["name_en"] else f"{h['name_th']} / {h['name_en']}"
        return f"  {h['date']} {h['weekday']}  {names}  [{h['source']}]{note}"

    lines += [row(h, " (on the weekend)" if h["on_weekend"] else "") for h in data["holidays"]] or ["  none"]
    if data["not_kept"]:
        lines.append(f"Open under the {data['calendar']} calendar:")
        lines += [row(h) for h in data["not_kept"]]
    lines.append(f"Extra working days ({len(data['working_days'])}):")
    lines += [row(h) for h in data["working_days"]] or ["  none"]
    if not data["agency_list"]:
        lines.append(
            f"No days of the office's own for {data['year']} yet: import the Cabinet's list with `mailintake calendar import`."
        )
    return lines


@calendar.command("import")
@click.argument("ics_file", type=click.Path(dir_okay=False, path_type=Path))
@now_option
@json_option
@click.pass_context
def import_(ctx: click.Context, ics_file: Path, now: str | None, as_json: bool) -> None:
    """Add the holidays in an iCalendar file (the Cabinet's or the agency's list) to [hours] holidays_file.

    Each event's days (DTSTART up to DTEND) become one entry each with the
    Thai and English name (SUMMARY "ไทย / English", or one SUMMARY per
    LANGUAGE) and the file as source. A day the list holds already is left as
    it is, so importing the same file twice adds nothing (admin).

    Example: mailintake calendar import cabinet-2570.ics
    """
    cfg = config(ctx)
    user = require(cfg, "admin")
    target = cfg.hours.holidays_file
    entries = holidaylist.from_ics(ics_file, cfg.hours.timezone)
    added, known = holidaylist.add(target, entries)
    if added:
        dep = deployment(ctx)
        with dep.registry.transaction():
            dep.registry.add_event(
                at=moment(ctx, now),
                actor=user.login,
                action="calendar_imported",
                detail={"file": ics_file.name, "into": str(target), "days": [e.day.isoformat() for e in added]},
            )
    if as_json:
        print_json(
            {
                "file": str(ics_file),
                "holidays_file": str(target),
                "added": [_entry(e) for e in added],
                "already_there": [_entry(e) for e in known],
            }
        )
        return
    for e in added:
        click.echo(f"added {e.day} {e.name_th} / {e.name_en}")
    click.echo(f"{len(added)} day(s) added to {target}, {len(known)} already there")


def _entry(e: holidaylist.Entry) -> dict[str, str]:
    return {"date": e.day.isoformat(), "name_th": e.name_th, "name_en": e.name_en, "source": e.source}
