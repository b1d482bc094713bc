"""`manage.py load_demo`: complete (every role, both organizations), faithful to the time rules
where they are hardest (nights, DST), and safe to run twice."""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from timesync import time_rules
from timesync.management.commands.load_demo import (
    DEMO_PASSWORD,
    MULTI_ORGANIZATION_EMAIL,
    ORGANIZATIONS,
    OrganizationLoader,
    delete_demo,
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

# A Friday, noon in Toronto and 09:00 in Vancouver, three weeks after the clocks fell back.
NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _load(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Iterator[str]:
    """One load, committed and shared by this module's tests: a load takes seconds. Tests that
    change it run in their own transaction, which is rolled back; the demo is deleted after."""
    with (
        django_db_blocker.unblock(),
        override_settings(DEBUG=True, PASSWORD_HASHERS=FAST_HASHERS),
        pytest.MonkeyPatch.context() as patch,
    ):
        # A fixed clock: the same data whatever the day, and a second load sees the same "now".
        patch.setattr(timezone, "now", lambda: NOW)
        output = _load()
    yield output
    with django_db_blocker.unblock():
        delete_demo()


@pytest.fixture
def demo_settings(settings):
    settings.DEBUG = True
    # The default hasher spends most of a second per password.
    settings.PASSWORD_HASHERS = FAST_HASHERS
    return settings


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
        **{
            f"shifts {state}": Shift.objects.filter(approval_state=state).count()
            for state in ApprovalState.values
        },
        "open shifts": Shift.objects.filter(end__isnull=True).count(),
        "shift history": Shift.history.count(),
    }


def _local(moment: datetime, shift: Shift) -> datetime:
    return moment.astimezone(ZoneInfo(shift.project.effective_time_zone))


def _dst_nights(shifts: list[Shift]) -> list[Shift]:
    return [
        s for s in shifts
        if s.end is not None and _local(s.start, s).utcoffset() != _local(s.end, s).utcoffset()
    ]


def _check_time_rules(organization: Organization, now: datetime) -> list[Shift]:
    """What every loaded organization must show; returns its shifts for further checks."""
    shifts = list(
        Shift.objects.filter(organization=organization)
        .select_related("project__organization")
        .order_by("start")
    )

    # Written through the services: derived fields as the time rules have them, with history.
    for shift in shifts:
        zone = shift.project.effective_time_zone
        assert shift.work_date == time_rules.work_date(shift.start, zone)
        if shift.end is not None:
            assert shift.end <= now
            assert shift.paid_seconds == time_rules.paid_seconds(
                shift.start, shift.end, shift.break_minutes
            )
        assert shift.cost_code_id is not None
        if shift.notes.startswith("Corrected after the sync"):
            # The demo's one correction after a Plexxis sync: approved, then edited.
            assert (shift.version, shift.approval_state) == (3, ApprovalState.PENDING)
            continue
        assert shift.version == (1 if shift.approval_state == ApprovalState.PENDING else 2)
    assert Shift.history.filter(organization_id=organization.pk).count() == sum(
        shift.version for shift in shifts
    )

    closed = [s for s in shifts if s.end is not None]
    overnight = [s for s in closed if _local(s.start, s).date() != _local(s.end, s).date()]
    assert overnight
    assert all(s.work_date == _local(s.start, s).date() for s in overnight)
    assert any(s.work_date != s.start.astimezone(UTC).date() for s in overnight)

    dst_nights = _dst_nights(shifts)
    assert dst_nights
    for shift in dst_nights:
        wall_clock = (
            _local(shift.end, shift).replace(tzinfo=None)
            - _local(shift.start, shift).replace(tzinfo=None)
        )
        elapsed = shift.paid_seconds + shift.break_minutes * 60
        # Paid from real elapsed time: an hour more or less than the wall clock says.
        assert abs(elapsed - wall_clock.total_seconds()) == 3600
        assert shift.approval_state == ApprovalState.APPROVED

    assert {s.approval_state for s in shifts} == set(ApprovalState.values)
    assert all(s.rejection_reason for s in shifts if s.approval_state == ApprovalState.REJECTED)
    assert {s.time_type for s in shifts} == set(TimeType.values)
    open_shifts = [s for s in shifts if s.end is None]
    assert len(open_shifts) == 2
    assert all(s.approval_state == ApprovalState.PENDING for s in open_shifts)
    assert all(now - timedelta(hours=12) < s.start < now for s in open_shifts)

    # Six weeks ending today: older weeks mostly approved, the last one mostly pending.
    today = now.astimezone(ZoneInfo(organization.time_zone)).date()
    recent = [s for s in closed if (today - s.work_date).days < 7]
    older = [s for s in closed if (today - s.work_date).days >= 7 and s not in dst_nights]
    assert sum(s.approval_state == ApprovalState.PENDING for s in recent) > 0.7 * len(recent)
    assert sum(s.approval_state == ApprovalState.APPROVED for s in older) > 0.9 * len(older)
    assert min(s.work_date for s in older) > today - timedelta(weeks=6)
    return shifts


# --- The shared load ------------------------------------------------------------------------


def test_loading_twice_duplicates_nothing(demo, settings):
    before = _counts()
    assert before["organizations"] == 2
    settings.DEBUG = False  # and --force passes the DEBUG guard

    output = _load("--force")

    assert _counts() == before
    assert output.count("already loaded") == 2


def test_reset_deletes_the_demo_and_loads_it_again(demo, demo_settings, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    before = _counts()
    stranger = User.objects.create_user(email="someone@else.example")
    multi = User.objects.get(email=MULTI_ORGANIZATION_EMAIL)
    elsewhere = Organization.objects.create(name="Elsewhere Ltd", slug="elsewhere")
    Membership.objects.create(organization=elsewhere, user=multi, role=Role.VIEWER)

    output = _load("--reset")

    assert "Deleted the demo organization Northwind Builders" in output
    # Same seed, same day: the same demo again, nothing left over and nothing doubled.
    after = _counts()
    assert {**after, "users": after["users"] - 1, "organizations": after["organizations"] - 1,
            "memberships": after["memberships"] - 1} == before
    assert User.objects.filter(pk=stranger.pk).exists()
    assert User.objects.get(pk=multi.pk).memberships.filter(organization=elsewhere).exists()


def test_refuses_to_run_without_debug(settings):
    settings.DEBUG = False
    before = _counts()

    with pytest.raises(CommandError, match="DEBUG"):
        _load("--reset")

    assert _counts() == before


def test_every_role_in_each_organization_and_one_person_in_both(demo, demo_settings):
    for spec in ORGANIZATIONS:
        organization = Organization.objects.get(slug=spec.slug)
        assert organization.time_zone == spec.time_zone
        memberships = organization.memberships.all()
        assert {m.role for m in memberships} == set(Role.values)
        manager = memberships.get(role=Role.PROJECT_MANAGER)
        assert 2 <= manager.assigned_projects.count() <= 3
    multi = User.objects.get(email=MULTI_ORGANIZATION_EMAIL)
    assert multi.memberships.filter(role=Role.PAYROLL_ADMIN).count() == 2

    for email in demo_emails():
        assert User.objects.get(email=email).check_password(DEMO_PASSWORD)
        assert email in demo
    assert DEMO_PASSWORD in demo


def test_reference_data(demo):
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


def test_shifts_show_the_time_rules(demo):
    for organization in Organization.objects.all():
        shifts = _check_time_rules(organization, NOW)
        # The fall-back night of Nov 1 is in the six weeks: 8 hours on the clock, 9 worked.
        night = _dst_nights(shifts)[0]
        assert night.work_date == date(2026, 10, 31)
        assert night.paid_seconds == (9 * 60 - night.break_minutes) * 60


def test_no_worker_is_on_two_shifts_at_once(demo):
    by_worker: dict[int, list[Shift]] = {}
    for shift in Shift.objects.exclude(approval_state=ApprovalState.REJECTED).order_by("start"):
        by_worker.setdefault(shift.worker_id, []).append(shift)
    for shifts in by_worker.values():
        for before, after in itertools.pairwise(shifts):
            assert before.end is not None
            assert before.end <= after.start


# --- Awkward dates, one organization each ---------------------------------------------------


@pytest.mark.parametrize(
    ("now", "dst_change"),
    [
        # 00:00 in Vancouver in January: the last DST change is older than the six weeks (its
        # night is loaded anyway), and no one punched in at 07:00 today yet.
        (datetime(2027, 1, 20, 8, 0, tzinfo=UTC), date(2026, 11, 1)),
        # The Monday after spring forward: a 7-hour night in the window.
        (datetime(2026, 3, 9, 20, 0, tzinfo=UTC), date(2026, 3, 8)),
    ],
    ids=["january-midnight", "after-spring-forward"],
)
def test_awkward_dates(demo_settings, now, dst_change):
    # Fewer workers than the real demo: the same paths, in a fraction of the time.
    spec = dataclasses.replace(
        ORGANIZATIONS[1], slug="edge", name="Edge Concrete", email_domain="edge.example",
        worker_count=12,
    )
    loader = OrganizationLoader(
        spec, now=now, password_hash=make_password(DEMO_PASSWORD), rng=random.Random(7)
    )

    result = loader.load()

    assert result.dst_change == dst_change
    shifts = _check_time_rules(result.organization, now)
    assert all(night.work_date == dst_change - timedelta(days=1) for night in _dst_nights(shifts))


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
