"""`mailintake calendar show` and `calendar import` (issue 12, R2): each closed
day with its Thai and English name and source; the Cabinet's list imported from
iCalendar into the office's holidays file, once; and `status` warning in
December when next year has no list of the office's own."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from conftest import Env
from mails import at

from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import load
from mailintake.base.data.db import Registry
from mailintake.base.deployment import Deployment
from mailintake.ops.status import status_lines, system_status

# As a calendar program or the Cabinet Secretariat's site exports it: CRLF, all-day
# events (DTSTART;VALUE=DATE, DTEND the day after the last), one over several days,
# names in one SUMMARY "ไทย / English" or one SUMMARY per LANGUAGE.
CABINET_ICS = "\r\n".join(
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Secretariat of the Cabinet//Holidays 2570//TH",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:วันหยุดราชการ พ.ศ. 2570",
        "BEGIN:VEVENT",
        "UID:2027-0104@soc.go.th",
        "DTSTAMP:20261201T020000Z",
        "DTSTART;VALUE=DATE:20270104",
        "DTEND;VALUE=DATE:20270105",
        "SUMMARY:วันหยุดพิเศษ (เพิ่มเติม) / Special holiday (additional)",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:2027-songkran@soc.go.th",
        "DTSTAMP:20261201T020000Z",
        "DTSTART;VALUE=DATE:20270412",
        "DTEND;VALUE=DATE:20270417",
        "SUMMARY;LANGUAGE=th:วันสงกรานต์",
        "SUMMARY;LANGUAGE=en:Songkran Festival",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:2027-cancelled@soc.go.th",
        "DTSTAMP:20261201T020000Z",
        "DTSTART;VALUE=DATE:20270503",
        "SUMMARY:ยกเลิก / Cancelled",
        "STATUS:CANCELLED",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
)
IMPORTED = [date(2027, 1, 4), *(date(2027, 4, d) for d in range(12, 17))]


@pytest.fixture
def office(tmp_path: Path) -> Env:
    # A Maildir mailbox and no SMTP: nothing here touches mail.
    env = Env(tmp_path, None, None)
    env.config.write_text(
        env.config.read_text(encoding="utf-8") + '\n[hours]\nextra_holidays = ["2026-09-15 Founding day of the municipality"]\n',
        encoding="utf-8",
    )
    return env


def write_ics(env: Env, text: str = CABINET_ICS, name: str = "cabinet-2570.ics") -> Path:
    path = env.tmp / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_show_lists_each_closed_day_in_thai_and_english_with_its_source(office: Env) -> None:
    data = office.json("calendar", "show", "--year", "2026")
    assert data["year"] == 2026 and data["calendar"] == "government"
    assert data["weekend"] == {"weekdays": ["Sat", "Sun"], "days": 104}
    days = {h["date"]: h for h in data["holidays"]}
    assert days["2026-05-13"]["name_th"] == "วันพืชมงคล"
    assert days["2026-05-13"]["name_en"] == "Royal Ploughing Ceremony"
    assert days["2026-05-13"]["source"].startswith("holidays ") and days["2026-05-13"]["source"].endswith("(government)")
    assert days["2026-01-01"]["name_th"] == "วันขึ้นปีใหม่" and days["2026-01-01"]["name_en"] == "New Year's Day"
    assert days["2026-09-15"]["source"] == "config [hours] extra_holidays"
    # National Labour Day is open, and said so.
    assert "2026-05-01" not in days
    assert [(h["date"], h["name_th"]) for h in data["not_kept"]] == [("2026-05-01", "วันแรงงานแห่งชาติ")]
    assert all(h["name_th"] and h["name_en"] for h in data["holidays"])
    text = office.run("calendar", "show", "--year", "2026").stdout
    assert "2026-05-13 Wed  วันพืชมงคล / Royal Ploughing Ceremony  [holidays" in text
    assert "Weekend: Sat, Sun (104 days)" in text


def test_import_adds_each_day_with_its_names_and_source_and_twice_adds_nothing(office: Env) -> None:
    ics = write_ics(office)
    first = office.json("calendar", "import", str(ics))
    assert [e["date"] for e in first["added"]] == [d.isoformat() for d in IMPORTED]
    assert first["already_there"] == []
    holidays_file = office.tmp / "holidays.toml"
    assert first["holidays_file"] == str(holidays_file)

    data = office.json("calendar", "show", "--year", "2027")
    days = {h["date"]: h for h in data["holidays"]}
    assert (days["2027-01-04"]["name_th"], days["2027-01-04"]["name_en"]) == (
        "วันหยุดพิเศษ (เพิ่มเติม)",
        "Special holiday (additional)",
    )
    assert days["2027-04-16"]["name_th"] == "วันสงกรานต์" and days["2027-04-16"]["name_en"] == "Songkran Festival"
    assert days["2027-01-04"]["source"] == "holidays.toml: import cabinet-2570.ics"
    assert days["2027-01-04"]["origin"] == "file"
    assert "2027-05-03" not in days  # the cancelled event; and Labour Day's day in lieu stays open

    # Every calendar of the deployment sees the new days: Friday 1 Jan is New Year's Day,
    # Monday 4 Jan the Cabinet's: mail of Thursday 31 Dec evening is deemed Tuesday 5 Jan.
    cal = WorkCalendar(load(office.config, environ={}).hours)
    assert cal.deadline(at("2026-12-31 17:00")).deemed_received_at == at("2027-01-05 08:30")

    before = holidays_file.read_bytes()
    again = office.json("calendar", "import", str(ics))
    assert again["added"] == [] and len(again["already_there"]) == len(IMPORTED)
    assert holidays_file.read_bytes() == before
    assert (
        office.run("calendar", "import", str(ics))
        .stdout.strip()
        .endswith("0 day(s) added to " + str(holidays_file) + ", 6 already there")
    )

    # One audit event, for the import that changed something.
    reg = Registry(office.storage / "mailintake.db")
    try:
        events = reg.all("SELECT detail FROM events WHERE action = 'calendar_imported'")
    finally:
        reg.close()
    assert len(events) == 1 and "2027-04-12" in events[0]["detail"]


def test_the_file_an_import_writes_is_one_an_office_can_edit(office: Env) -> None:
    office.json("calendar", "import", str(write_ics(office)))
    holidays_file = office.tmp / "holidays.toml"
    text = holidays_file.read_text(encoding="utf-8")
    assert text.startswith("# The office's own holidays")
    assert '[[holiday]]\ndate = 2027-01-04\nname_th = "วันหยุดพิเศษ (เพิ่มเติม)"\nname_en = "Special holiday (additional)"\n' in text
    # A hand-written entry is kept by the next import and shown as written.
    holidays_file.write_text(
        text + '\n[[holiday]]\ndate = 2027-06-07\nname_th = "วันหยุดพิเศษ"\nname_en = "Special holiday"\nsource = "by hand"\n',
        encoding="utf-8",
    )
    office.json("calendar", "import", str(write_ics(office, CABINET_ICS.replace("20270104", "20270105"), "more.ics")))
    days = {h["date"]: h for h in office.json("calendar", "show", "--year", "2027")["holidays"]}
    assert days["2027-06-07"]["source"] == "holidays.toml: by hand"
    assert days["2027-01-05"]["source"] == "holidays.toml: import more.ics"


@pytest.mark.parametrize(
    "text",
    [
        "this is not a calendar\n",
        "",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:2027XX04\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270104\r\n",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
    ],
    ids=["text", "empty", "bad-date", "truncated", "no-events"],
)
def test_a_malformed_ics_is_one_line_and_exit_1(office: Env, text: str) -> None:
    result = office.run("calendar", "import", str(write_ics(office, text, "bad.ics")), ok=False)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: bad.ics: "), result.output
    assert "Traceback" not in result.output
    assert not (office.tmp / "holidays.toml").exists()


def test_a_missing_ics_is_one_line(office: Env) -> None:
    result = office.run("calendar", "import", str(office.tmp / "nowhere.ics"), ok=False)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1


def test_status_warns_in_december_until_next_years_list_is_there(office: Env) -> None:
    dep = Deployment.build(load(office.config, environ={}))
    try:
        november = system_status(dep, live=False, now=at("2026-11-30 09:00"))
        assert november["calendar"]["warning"] is None and november["calendar"]["next_year"] == 2027
        december = system_status(dep, live=False, now=at("2026-12-01 09:00"))
        assert december["calendar"] == {
            "calendar": "government",
            "next_year": 2027,
            "next_year_confirmed": False,
            "warning": december["calendar"]["warning"],
        }
        warning = "no confirmed holidays for 2027 yet: import the Cabinet's list with `mailintake calendar import FILE.ics`"
        assert december["calendar"]["warning"].startswith(warning)
        assert [line for line in status_lines(december) if "2027" in line] == [f"WARNING: {december['calendar']['warning']}"]

        office.json("calendar", "import", str(write_ics(office)))
        after = system_status(dep, live=False, now=at("2026-12-01 09:00"))
        assert after["calendar"]["next_year_confirmed"] is True and after["calendar"]["warning"] is None
        assert not any("2027" in w for w in after["warnings"])
    finally:
        dep.close()


def test_timed_events_and_durations_cover_the_days_they_run(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    from mailintake.base.holidaylist import from_ics

    ics = tmp_path / "agency.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        # Midnight to midnight in Bangkok, written in UTC: one day, 8 June.
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20270607T170000Z\r\nDTEND:20270608T170000Z\r\nSUMMARY:วันก่อตั้งเทศบาล\r\nEND:VEVENT\r\n"
        # Two days by DURATION.
        "BEGIN:VEVENT\r\nUID:b\r\nDTSTART;VALUE=DATE:20271228\r\nDURATION:P2D\r\nSUMMARY:Year-end closing\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n",
        encoding="utf-8",
    )
    got = [(e.day, e.name_th, e.name_en) for e in from_ics(ics, ZoneInfo("Asia/Bangkok"))]
    assert got == [
        (date(2027, 6, 8), "วันก่อตั้งเทศบาล", "วันก่อตั้งเทศบาล"),
        (date(2027, 12, 28), "Year-end closing", "Year-end closing"),
        (date(2027, 12, 29), "Year-end closing", "Year-end closing"),
    ]
