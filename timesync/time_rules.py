"""The time rules: which day a shift belongs to and how many hours it pays.

- A shift's work date is the local calendar date of its start in the project's time zone (the
  organization's when the project has none): an overnight shift belongs to the day it started.
- Paid time is the real elapsed time from start to end, less unpaid breaks. It is computed in
  UTC: Python subtracts two datetimes sharing one tzinfo on the wall clock, which would turn a
  DST night's 9 hours into 8 or 10.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone as django_timezone

SECONDS_PER_HOUR = Decimal(3600)
HOURS_QUANTUM = Decimal("0.01")
# Longer than any real shift, short enough to catch a date typed a day off.
MAX_SHIFT_LENGTH = timedelta(hours=24)


# The sane window of work dates: shifts, punches and syncs outside it are refused as typos or
# hostile input. Timesync began in this century (no customer keeps earlier timesheets here) and
# nobody records hours more than a year ahead; the window's edges also keep every date
# computation (a week around a day, a time zone's offset) far from Python's year 1 and 9999.
EARLIEST_WORK_DATE = date(2000, 1, 1)


def latest_work_date() -> date:
    """The last day of next year (UTC)."""
    return date(django_timezone.now().year + 1, 12, 31)


def outside_work_window(day: date) -> str | None:
    """Why `day` cannot be a work date, or None when it can."""
    if day < EARLIEST_WORK_DATE:
        return f"Give a date on or after {EARLIEST_WORK_DATE.isoformat()}."
    if day > latest_work_date():
        return f"Give a date on or before {latest_work_date().isoformat()}."
    return None


class LocalTimeError(ValueError):
    """A wall-clock time that a DST change makes missing or ambiguous."""


def work_date(start: datetime, time_zone: str) -> date:
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    return start.astimezone(ZoneInfo(time_zone)).date()


def today(time_zone: str) -> date:
    """Today where the work happens: an organization's or a project's "today" (at 23:30 on a
    Sunday in Toronto it is still Sunday, though Monday in UTC)."""
    return django_timezone.now().astimezone(ZoneInfo(time_zone)).date()


def paid_seconds(start: datetime, end: datetime, break_minutes: int) -> int:
    """Elapsed seconds from start to end less the unpaid break, never below zero."""
    elapsed = end.astimezone(UTC) - start.astimezone(UTC)
    return max(0, int(elapsed.total_seconds()) - break_minutes * 60)


def hours(seconds: int) -> Decimal:
    """Seconds as decimal hours, to the hundredth (what payroll systems take)."""
    return (Decimal(seconds) / SECONDS_PER_HOUR).quantize(HOURS_QUANTUM, rounding=ROUND_HALF_UP)


def localize(naive: datetime, time_zone: str) -> datetime:
    """Attach a time zone to a wall-clock time, refusing the ones a DST change makes unclear.

    A time in the spring-forward gap never happened; one in the fall-back hour happened twice.
    Guessing either would move paid hours, so the caller must give a UTC offset instead.
    """
    if naive.tzinfo is not None:
        return naive
    zone = ZoneInfo(time_zone)
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != naive:
        raise LocalTimeError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {time_zone} (clocks moved forward); "
            "give the time with its UTC offset."
        )
    raise LocalTimeError(
        f"{naive:%Y-%m-%d %H:%M} happens twice in {time_zone} (clocks moved back); "
        "give the time with its UTC offset."
    )
