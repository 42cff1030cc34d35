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
