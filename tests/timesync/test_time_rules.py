"""The time rules of DESIGN.md: work date in the project's zone, overnight shifts belong to
their start day, paid hours are real elapsed time less breaks, across DST changes."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from timesync import time_rules

TORONTO = "America/Toronto"
VANCOUVER = "America/Vancouver"


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)


def paid_hours(start: datetime, end: datetime, break_minutes: int = 0) -> Decimal:
    return time_rules.hours(time_rules.paid_seconds(start, end, break_minutes))


def test_day_shift_pays_elapsed_time_less_break():
    start, end = local(TORONTO, 2026, 6, 3, 7, 0), local(TORONTO, 2026, 6, 3, 15, 30)
    assert time_rules.work_date(start, TORONTO) == date(2026, 6, 3)
    assert paid_hours(start, end, break_minutes=30) == Decimal("8.00")


def test_overnight_shift_belongs_to_the_day_it_started():
    start, end = local(TORONTO, 2026, 6, 3, 22, 0), local(TORONTO, 2026, 6, 4, 6, 0)
    assert time_rules.work_date(start, TORONTO) == date(2026, 6, 3)
    assert paid_hours(start, end, break_minutes=30) == Decimal("7.50")


def test_work_date_follows_the_project_zone_not_utc():
    # 21:00 in Vancouver is already the next day in UTC (and in Toronto).
    start = local(VANCOUVER, 2026, 6, 3, 21, 0)
    assert time_rules.work_date(start, VANCOUVER) == date(2026, 6, 3)
    assert time_rules.work_date(start, TORONTO) == date(2026, 6, 4)


@pytest.mark.parametrize("zone", [TORONTO, VANCOUVER])
def test_overnight_shift_when_clocks_fall_back_pays_the_extra_hour(zone):
    # 2026-11-01 02:00 local, clocks go back to 01:00: 22:00 → 06:00 is 9 real hours.
    start, end = local(zone, 2026, 10, 31, 22, 0), local(zone, 2026, 11, 1, 6, 0)
    assert time_rules.work_date(start, zone) == date(2026, 10, 31)
    assert paid_hours(start, end) == Decimal("9.00")
    assert paid_hours(start, end, break_minutes=30) == Decimal("8.50")


@pytest.mark.parametrize("zone", [TORONTO, VANCOUVER])
def test_overnight_shift_when_clocks_spring_forward_pays_one_hour_less(zone):
    # 2026-03-08 02:00 local, clocks jump to 03:00: 22:00 → 06:00 is 7 real hours.
    start, end = local(zone, 2026, 3, 7, 22, 0), local(zone, 2026, 3, 8, 6, 0)
    assert time_rules.work_date(start, zone) == date(2026, 3, 7)
    assert paid_hours(start, end) == Decimal("7.00")


def test_paid_time_is_the_same_whatever_zone_the_times_are_given_in():
    start = local(TORONTO, 2026, 10, 31, 22, 0)
    end = local(TORONTO, 2026, 11, 1, 6, 0)
    assert paid_hours(start.astimezone(ZoneInfo(VANCOUVER)), end) == Decimal("9.00")


def test_hours_round_to_the_hundredth():
    assert time_rules.hours(20 * 60) == Decimal("0.33")
    assert time_rules.hours(7 * 3600 + 45 * 60) == Decimal("7.75")


def test_break_longer_than_the_shift_pays_nothing_rather_than_negative():
    start, end = local(TORONTO, 2026, 6, 3, 7, 0), local(TORONTO, 2026, 6, 3, 7, 20)
    assert time_rules.paid_seconds(start, end, break_minutes=30) == 0


def test_wall_clock_time_is_read_in_the_given_zone():
    aware = time_rules.localize(datetime(2026, 6, 3, 7, 0), VANCOUVER)
    assert aware.utcoffset().total_seconds() == -7 * 3600


def test_wall_clock_time_in_the_spring_forward_gap_is_refused():
    with pytest.raises(time_rules.LocalTimeError, match="does not exist"):
        time_rules.localize(datetime(2026, 3, 8, 2, 30), TORONTO)


def test_wall_clock_time_in_the_repeated_fall_back_hour_is_refused():
    with pytest.raises(time_rules.LocalTimeError, match="happens twice"):
        time_rules.localize(datetime(2026, 11, 1, 1, 30), TORONTO)
