"""`manage.py load_demo`: complete (every role, both organizations), faithful to the time rules
where they are hardest (nights, DST), and safe to run twice."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from timesync import time_rules
from timesync.management.commands.load_demo import (
    DEMO_PASSWORD,
    MULTI_ORGANIZATION_EMAIL,
    ORGANIZATIONS,
    demo_emails,
    last_dst_change,
)
from timesync.models import (
    ApprovalState,
    CostCode,
    Membership,
    Organization,
    Project,
    Role,
    Shift,
    TimeType,
    User,
    Worker,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_settings(settings):
    settings.DEBUG = True
    # The default hasher spends most of a second per password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


@pytest.fixture
def freeze(monkeypatch) -> Callable[[datetime], datetime]:
    """Stop the clock, so that two loads in one test see the same "now" (a shift ending between
    them would otherwise appear in the second only) and so that tests can pick awkward dates."""

    def freeze_at(moment: datetime) -> datetime:
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return freeze_at


def _load(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "organizations": Organization.objects.count(),
        "memberships": Membership.objects.count(),
        "projects": Project.objects.count(),
        "project history": Project.history.count(),
        "workers": Worker.objects.count(),
        "worker history": Worker.history.count(),
        "cost codes": CostCode.objects.count(),
        **{f"shifts {state}": Shift.objects.filter(approval_state=state).count()
           for state in ApprovalState.values},
        "open shifts": Shift.objects.filter(end__isnull=True).count(),
        "shift history": Shift.history.count(),
    }


def _local(moment: datetime, shift: Shift) -> datetime:
    return moment.astimezone(ZoneInfo(shift.project.effective_time_zone))


def _shifts() -> list[Shift]:
    return list(Shift.objects.select_related("project__organization", "worker", "cost_code"))


def test_loading_twice_duplicates_nothing(demo_settings, freeze):
    freeze(timezone.now())
    _load()
    before = _counts()
    assert before["organizations"] == 2
    assert before["shifts approved"] > 0

    # Also: --force passes the DEBUG guard.
    demo_settings.DEBUG = False
    output = _load("--force")

    assert _counts() == before
    assert output.count("already loaded") == 2


def test_reset_deletes_the_demo_and_loads_it_again(demo_settings, freeze):
    freeze(timezone.now())
    _load()
    before = _counts()
    stranger = User.objects.create_user(email="someone@else.example", password="x")

    output = _load("--reset")

    assert "Deleted the demo organization Northwind Builders" in output
    assert {**_counts(), "users": before["users"]} == before  # same seed, same day: same demo
    assert User.objects.filter(pk=stranger.pk).exists()


def test_refuses_to_run_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        _load()
    assert not Organization.objects.exists()


def test_every_role_in_each_organization_and_one_person_in_both(demo_settings):
    output = _load()

    for spec in ORGANIZATIONS:
        organization = Organization.objects.get(slug=spec.slug)
        assert organization.time_zone == spec.time_zone
        memberships = organization.memberships.select_related("user")
        assert {m.role for m in memberships} == set(Role.values)
        manager = memberships.get(role=Role.PROJECT_MANAGER)
        assert 2 <= manager.assigned_projects.count() <= 3
    multi = User.objects.get(email=MULTI_ORGANIZATION_EMAIL)
    assert multi.memberships.filter(role=Role.PAYROLL_ADMIN).count() == 2

    for email in demo_emails():
        assert User.objects.get(email=email).check_password(DEMO_PASSWORD)
        assert email in output
    assert DEMO_PASSWORD in output


def test_reference_data(demo_settings):
    _load()

    projects = Project.objects.select_related("organization")
    assert 10 <= projects.count() <= 14
    assert all(re.fullmatch(r"\d{2}-\d{3}", p.code) for p in projects)
    assert any(p.time_zone and p.time_zone != p.organization.time_zone for p in projects)
    workers = Worker.objects.all()
    assert 50 <= workers.count() <= 70
    assert workers.filter(is_active=False).exists()
    assert not workers.filter(employee_number="").exists()
    assert not workers.filter(phone="").exists()
    for spec in ORGANIZATIONS:
        cost_codes = CostCode.objects.filter(organization__slug=spec.slug)
        assert cost_codes.count() >= 8
        assert all(re.fullmatch(r"\d{2}\.\d{3}", c.code) for c in cost_codes)


@pytest.mark.parametrize(
    "moment",
    [
        None,  # the real today
        # 03:00 in Toronto, in January: the last DST change is older than the six weeks,
        # and a shift open now cannot have started at 07:00 today.
        datetime(2027, 1, 20, 8, 0, tzinfo=UTC),
        # The Monday after spring forward: the DST night is 7 hours long, and in the window.
        datetime(2026, 3, 9, 20, 0, tzinfo=UTC),
    ],
    ids=["today", "january-night", "after-spring-forward"],
)
def test_shifts_show_the_time_rules(demo_settings, freeze, moment):
    now = freeze(moment or timezone.now())
    _load()
    shifts = _shifts()

    # Written through the services: derived fields as the time rules have them, with history.
    for shift in shifts:
        assert shift.work_date == time_rules.work_date(
            shift.start, shift.project.effective_time_zone
        )
        if shift.end is not None:
            assert shift.end <= now
            assert shift.paid_seconds == time_rules.paid_seconds(
                shift.start, shift.end, shift.break_minutes
            )
        assert shift.cost_code is not None
        assert shift.version == (1 if shift.approval_state == ApprovalState.PENDING else 2)
    assert Shift.history.count() == sum(shift.version for shift in shifts)

    closed = [s for s in shifts if s.end is not None]
    overnight = [s for s in closed if _local(s.start, s).date() != _local(s.end, s).date()]
    assert overnight
    assert any(s.work_date != s.start.astimezone(UTC).date() for s in shifts)
    assert all(s.work_date == _local(s.start, s).date() for s in overnight)

    dst_nights = [
        s for s in closed if _local(s.start, s).utcoffset() != _local(s.end, s).utcoffset()
    ]
    assert dst_nights
    for shift in dst_nights:
        wall_clock = _local(shift.end, shift).replace(tzinfo=None) - _local(
            shift.start, shift
        ).replace(tzinfo=None)
        # Paid from real elapsed time: an hour more or less than the wall clock says.
        assert abs(shift.paid_seconds + shift.break_minutes * 60 - wall_clock.total_seconds()) \
            == 3600

    assert {s.approval_state for s in shifts} == set(ApprovalState.values)
    assert all(s.rejection_reason for s in shifts if s.approval_state == ApprovalState.REJECTED)
    assert {s.time_type for s in shifts} == set(TimeType.values)
    open_shifts = [s for s in shifts if s.end is None]
    assert len(open_shifts) == 4
    assert all(s.approval_state == ApprovalState.PENDING for s in open_shifts)

    # Six weeks ending today, older weeks mostly decided, the last one mostly not.
    today = now.astimezone(ZoneInfo("America/Toronto")).date()
    recent = [s for s in closed if (today - s.work_date).days < 7]
    older = [s for s in closed if (today - s.work_date).days >= 7 and s not in dst_nights]
    assert recent
    assert sum(s.approval_state == ApprovalState.PENDING for s in recent) > len(recent) / 2
    assert sum(s.approval_state == ApprovalState.APPROVED for s in older) > 0.9 * len(older)
    assert min(s.work_date for s in older) >= date.fromordinal(today.toordinal() - 42)


def test_no_worker_is_on_two_shifts_at_once(demo_settings):
    _load()

    by_worker: dict[int, list[Shift]] = {}
    for shift in Shift.objects.exclude(approval_state=ApprovalState.REJECTED).order_by("start"):
        by_worker.setdefault(shift.worker_id, []).append(shift)
    for shifts in by_worker.values():
        for before, after in zip(shifts, shifts[1:], strict=False):
            assert before.end is not None
            assert before.end <= after.start


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 21), date(2026, 11, 1)),  # fall back
        (date(2026, 11, 1), date(2026, 11, 1)),  # the day of the change itself
        (date(2026, 6, 1), date(2026, 3, 8)),  # spring forward, months back
    ],
)
def test_last_dst_change(today, expected):
    assert last_dst_change("America/Toronto", on_or_before=today) == expected


def test_last_dst_change_without_dst():
    assert last_dst_change("America/Regina", on_or_before=date(2026, 11, 21)) is None
