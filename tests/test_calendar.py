"""Working time (R2), deemed receipt (R3) and acknowledgement deadline (R4)."""

from __future__ import annotations

from datetime import UTC, date
from pathlib import Path

import pytest
from mails import at

from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import load


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar(load(None, environ={}).hours)


def test_in_working_time_is_due_by_close_of_that_day(cal: WorkCalendar) -> None:
    d = cal.deadline(at("2025-12-09 10:15"))
    assert d.in_working_time
    assert d.deemed_received_at == at("2025-12-09 10:15")
    assert d.ack_due_at == at("2025-12-09 16:30")


def test_after_hours_before_fathers_day_is_deemed_monday(cal: WorkCalendar) -> None:
    d = cal.deadline(at("2025-12-04 18:05"))
    assert d.deemed_received_at == at("2025-12-08 08:30")
    assert d.ack_due_at == at("2025-12-08 10:00")
    assert d.reason == "after hours; 5 Dec is a public holiday (Father's Day); deemed received Mon 8 Dec 08:30"


def test_friday_evening_is_deemed_monday_opening(cal: WorkCalendar) -> None:
    # The seed's example: Friday 18:00 -> Monday at opening.
    d = cal.deadline(at("2025-11-28 18:00"))
    assert d.deemed_received_at == at("2025-12-01 08:30")
    assert d.ack_due_at == at("2025-12-01 10:00")


def test_substitution_day_2026_fathers_day_on_saturday_moves_to_monday(cal: WorkCalendar) -> None:
    # 5 Dec 2026 is a Saturday; Monday 7 Dec is the day in lieu.
    assert not cal.is_working_day(date(2026, 12, 7))
    d = cal.deadline(at("2026-12-04 17:00"))
    assert d.deemed_received_at == at("2026-12-08 08:30")
    assert "7 Dec is a public holiday" in d.reason


def test_bridge_holiday_from_the_calendar_library(cal: WorkCalendar) -> None:
    # 2 Jan 2026 (Friday) is a government bridge holiday.
    d = cal.deadline(at("2026-01-01 12:00"))
    assert d.deemed_received_at == at("2026-01-05 08:30")


def test_before_opening_on_a_working_day(cal: WorkCalendar) -> None:
    d = cal.deadline(at("2025-12-09 07:40"))
    assert d.deemed_received_at == at("2025-12-09 08:30")
    assert d.ack_due_at == at("2025-12-09 10:00")
    assert d.reason.startswith("before opening")


def test_weekend(cal: WorkCalendar) -> None:
    d = cal.deadline(at("2025-12-13 11:00"))
    assert d.deemed_received_at == at("2025-12-15 08:30")
    assert d.reason.startswith("Saturday is not a working day")


def test_exact_close_is_after_hours(cal: WorkCalendar) -> None:
    assert cal.deadline(at("2025-12-11 16:30")).deemed_received_at == at("2025-12-12 08:30")
    assert cal.deadline(at("2025-12-11 16:29")).in_working_time


def test_utc_input_is_judged_in_bangkok(cal: WorkCalendar) -> None:
    from datetime import datetime

    # 02:00 UTC is 09:00 in Bangkok: in working time.
    d = cal.deadline(datetime(2025, 12, 9, 2, 0, tzinfo=UTC))
    assert d.in_working_time and d.ack_due_at == at("2025-12-09 16:30")


def test_agency_holidays_and_extra_working_days(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[hours]\nextra_holidays = ["2025-12-09 Municipal founding day"]\nextra_working_days = ["2025-12-13"]\n')
    cal = WorkCalendar(load(cfg, environ={}).hours)
    d = cal.deadline(at("2025-12-08 17:00"))
    # 9 Dec by the agency, 10 Dec Constitution Day: both named.
    assert d.deemed_received_at == at("2025-12-11 08:30")
    assert d.reason == (
        "after hours; 9 Dec is an agency holiday (Municipal founding day); "
        "10 Dec is a public holiday (Constitution Day); deemed received Thu 11 Dec 08:30"
    )
    # Saturday 13 Dec made a working day.
    assert cal.deadline(at("2025-12-13 09:00")).in_working_time


def test_naive_times_are_refused(cal: WorkCalendar) -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="naive"):
        cal.deadline(datetime(2025, 12, 9, 9, 0))


# --- the government calendar (issue 12, R2) ------------------------------------------------------
def calendar_of(tmp_path: Path, hours: str = "") -> WorkCalendar:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[hours]\n{hours}\n", encoding="utf-8")
    return WorkCalendar(load(cfg, environ={}).hours)


def test_government_calendar_opens_labour_day_and_closes_royal_ploughing_day(cal: WorkCalendar) -> None:
    # The default: the package's public and government holidays, less National Labour Day.
    assert cal.calendar == "government"
    assert cal.is_working_day(date(2026, 5, 1))  # Friday, National Labour Day: banks and the private sector only
    assert not cal.is_working_day(date(2026, 5, 13))  # Wednesday, Royal Ploughing Day
    ploughing = cal.holiday(date(2026, 5, 13))
    assert ploughing is not None
    assert (ploughing.name_th, ploughing.name_en) == ("วันพืชมงคล", "Royal Ploughing Ceremony")
    assert ploughing.origin == "package" and ploughing.source.endswith("(government)")
    # Left out by its identity, its day in lieu too: 1 May 2027 is a Saturday, Monday 3 May the day in lieu.
    assert cal.is_working_day(date(2027, 5, 3))
    assert {h.day for h in cal.left_out(2027)} == {date(2027, 5, 1), date(2027, 5, 3)}


def test_public_calendar_is_the_packages_public_set(tmp_path: Path) -> None:
    import holidays

    public = calendar_of(tmp_path, 'calendar = "public"')
    assert not public.is_working_day(date(2026, 5, 1))
    assert public.is_working_day(date(2026, 5, 13))
    assert not public.is_working_day(date(2027, 5, 3))
    package = holidays.country_holidays("TH", years=2026, categories=("public",))
    assert {h.day for h in public.holidays_in(2026)} == set(package)
    assert public.left_out(2026) == ()


def test_a_calendar_the_program_does_not_know_is_refused(tmp_path: Path) -> None:
    from mailintake.base.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[hours\] calendar: expected one of government, public, bank"):
        calendar_of(tmp_path, 'calendar = "private"')


def test_labour_day_and_royal_ploughing_day_move_deemed_receipt(cal: WorkCalendar, tmp_path: Path) -> None:
    # Thursday 30 April after hours: Friday 1 May is a working day for a government office
    # (it was Tuesday 5 May: 1 May, the weekend and Coronation Day on 4 May).
    d = cal.deadline(at("2026-04-30 17:00"))
    assert d.deemed_received_at == at("2026-05-01 08:30") and d.ack_due_at == at("2026-05-01 10:00")
    # Tuesday 12 May after hours: Royal Ploughing Day on the 13th moves it to Thursday.
    d = cal.deadline(at("2026-05-12 17:00"))
    assert d.deemed_received_at == at("2026-05-14 08:30")
    assert d.reason == "after hours; 13 May is a public holiday (Royal Ploughing Ceremony); deemed received Thu 14 May 08:30"
    # A state enterprise on the public calendar: the other way round.
    public = calendar_of(tmp_path, 'calendar = "public"')
    assert public.deadline(at("2026-04-30 17:00")).deemed_received_at == at("2026-05-05 08:30")
    assert public.deadline(at("2026-05-12 17:00")).deemed_received_at == at("2026-05-13 08:30")


def test_the_offices_list_is_read_from_its_file_and_seen_when_it_changes(tmp_path: Path) -> None:
    # [hours] holidays_file, beside config.toml, kept by hand: a Cabinet day and a working Saturday.
    (tmp_path / "holidays.toml").write_text(
        '[[holiday]]\ndate = 2026-07-27\nname_th = "วันหยุดพิเศษ"\nname_en = "Special holiday"\nsource = "Cabinet 2026-06-30"\n',
        encoding="utf-8",
    )
    cal = calendar_of(tmp_path)
    assert cal.hours.holidays_file == tmp_path / "holidays.toml"
    special = cal.holiday(date(2026, 7, 27))
    assert special is not None and (special.name_th, special.name_en, special.origin) == ("วันหยุดพิเศษ", "Special holiday", "file")
    assert special.source == "holidays.toml: Cabinet 2026-06-30"
    # Friday 24 July after hours: Monday 27 July is closed, and then 28 and 29 July (the King's Birthday, Asarnha Bucha).
    assert cal.deadline(at("2026-07-24 17:00")).deemed_received_at == at("2026-07-31 08:30")
    # The file changes under a running calendar: seen at once.
    with (tmp_path / "holidays.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[[working_day]]\ndate = 2026-11-07\nname_en = "Saturday in exchange for 27 July"\n')
    assert cal.is_working_day(date(2026, 11, 7))
    assert [w.name_en for w in cal.working_days_in(2026)] == ["Saturday in exchange for 27 July"]


def test_a_broken_holidays_file_names_itself(tmp_path: Path) -> None:
    from mailintake.base.errors import ConfigError

    (tmp_path / "holidays.toml").write_text("[[holiday]]\ndate = 2026-13-01\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"holidays.toml: not valid TOML"):
        calendar_of(tmp_path).is_working_day(date(2026, 7, 27))
    (tmp_path / "holidays.toml").write_text('[[holiday]]\ndate = "2026-07-27"\nnam_en = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[\[holiday\]\] entry 1: unknown key nam_en"):
        calendar_of(tmp_path).is_working_day(date(2026, 7, 27))


def test_labour_day_is_left_out_by_identity_whatever_category_holds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Should a later `holidays` put National Labour Day (and a day in lieu) in its government
    # category, with another observance on the same day, the government calendar still leaves
    # out Labour Day alone.
    import holidays

    from mailintake.base import calendar as module

    real = holidays.country_holidays

    def moved(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = real(*args, **kwargs)
        if kwargs.get("categories") == ("government",):
            th = kwargs.get("language") == "th"
            found[date(2026, 5, 1)] = "วันแรงงานแห่งชาติ" if th else "National Labor Day"
            found[date(2026, 5, 4)] = "ชดเชยวันแรงงานแห่งชาติ" if th else "National Labour Day (in lieu)"
            # The package joins two observances of one day with "; ".
            found[date(2026, 5, 13)] = "วันแรงงานแห่งชาติ" if th else "National Labor Day"
        return found

    module.package_holidays.cache_clear()
    monkeypatch.setattr(module.holidays, "country_holidays", moved)
    try:
        kept, left = module.package_holidays("government", 2026)
        assert date(2026, 5, 1) not in kept
        # 4 May is Coronation Day too: it stays closed, under its own name only.
        assert (kept[date(2026, 5, 4)].name_th, kept[date(2026, 5, 4)].name_en) == ("วันฉัตรมงคล", "Coronation Day")
        assert (kept[date(2026, 5, 13)].name_th, kept[date(2026, 5, 13)].name_en) == ("วันพืชมงคล", "Royal Ploughing Ceremony")
        assert {(h.day, h.name_en) for h in left} == {
            (date(2026, 5, 1), "National Labor Day"),
            (date(2026, 5, 4), "National Labor Day (in lieu)"),
            (date(2026, 5, 13), "National Labor Day"),
        }
    finally:
        module.package_holidays.cache_clear()
