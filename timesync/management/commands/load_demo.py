"""`manage.py load_demo`: the demo data that `make run` loads on a fresh machine.

Two organizations with a login for every role (and one person in both, for the organization
switcher), projects, workers, cost codes and six weeks of shifts ending today. Shifts go
through `timesync.services`, so their work dates, paid time, versions and history are exactly
what the application itself would have written; only what no service offers (adding a member
without an invitation, the demo's short slugs) is written directly.

The schedule is generated from a fixed seed and the current date: loading on the same day
gives the same data.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count, ProtectedError, Q, RestrictedError
from django.utils import timezone

from connectors.plexxis import demo as plexxis_demo
from timesync import services
from timesync.management import procore_demo
from timesync.models import (
    ApprovalState,
    CostCode,
    ExternalRecord,
    Membership,
    Organization,
    Project,
    Role,
    Shift,
    SyncRun,
    TimeType,
    User,
    Worker,
)

# Published on purpose: a local demo only, which is why the command refuses to run without DEBUG.
DEMO_PASSWORD = "timesync-demo"  # noqa: S105
MULTI_ORGANIZATION_EMAIL = "multi@example.com"
MULTI_ORGANIZATION_NAME = "Jordan Ellis"
SEED = 20240611
WEEKS = 6
# Between two days of work; also keeps a night crew off the next morning's shift.
MIN_REST = timedelta(hours=8)
ROLE_ORDER = [Role.ADMIN, Role.PAYROLL_ADMIN, Role.PROJECT_MANAGER, Role.VIEWER]
NOON = clock(12)


@dataclass(frozen=True)
class OrganizationSpec:
    slug: str
    name: str
    time_zone: str
    email_domain: str
    area_code: str
    first_employee_number: int
    # role -> full name; the local part of each login is fixed by `_login_email`.
    people: dict[str, str]
    # (project number, name, time zone override or "")
    projects: tuple[tuple[str, str, str], ...]
    project_manager_projects: tuple[str, ...]
    # The project with night work (a night crew works it, including across the DST change).
    night_project: str
    cost_codes: tuple[tuple[str, str], ...]
    worker_count: int


ORGANIZATIONS: tuple[OrganizationSpec, ...] = (
    OrganizationSpec(
        slug="northwind",
        name="Northwind Builders",
        time_zone="America/Toronto",
        email_domain="northwind.example",
        area_code="416",
        first_employee_number=1001,
        people={
            Role.ADMIN: "Olivia Chen",
            Role.PAYROLL_ADMIN: "Marcus Boateng",
            Role.PROJECT_MANAGER: "Daniel Kowalski",
            Role.VIEWER: "Priya Raman",
        },
        projects=(
            ("24-101", "King Street Condominiums, Tower A", ""),
            ("24-102", "Etobicoke Transit Maintenance Facility", ""),
            ("24-103", "Mississauga Medical Office Building", ""),
            ("24-104", "Markham Elementary School Addition", ""),
            ("24-105", "Harbourfront Parking Structure Repairs", ""),
            ("24-106", "Brampton Distribution Warehouse", ""),
            ("24-107", "Edmonton Logistics Hub", "America/Edmonton"),
        ),
        project_manager_projects=("24-101", "24-103", "24-105"),
        night_project="24-105",
        cost_codes=(
            ("01.100", "General Conditions"),
            ("01.500", "Temporary Facilities"),
            ("02.200", "Selective Demolition"),
            ("03.100", "Concrete Formwork"),
            ("03.200", "Concrete Reinforcing"),
            ("03.300", "Cast-in-Place Concrete"),
            ("05.100", "Structural Steel Framing"),
            ("06.100", "Rough Carpentry"),
            ("09.200", "Drywall and Metal Framing"),
            ("31.200", "Earthwork and Excavation"),
        ),
        worker_count=35,
    ),
    OrganizationSpec(
        slug="cascade",
        name="Cascade Concrete",
        time_zone="America/Vancouver",
        email_domain="cascade.example",
        area_code="604",
        first_employee_number=5001,
        people={
            Role.ADMIN: "Hannah Lindqvist",
            Role.PAYROLL_ADMIN: "Tomas Alvarez",
            Role.PROJECT_MANAGER: "Grace Nakamura",
            Role.VIEWER: "Ben Okafor",
        },
        projects=(
            ("25-201", "Burnaby Mixed-Use Podium", ""),
            ("25-202", "Surrey Hospital Parkade", ""),
            ("25-203", "Richmond Bridge Deck Rehabilitation", ""),
            ("25-204", "North Vancouver Seawall Footings", ""),
            # Cranbrook is in British Columbia but keeps Mountain time.
            ("25-205", "Cranbrook Water Treatment Plant", "America/Edmonton"),
        ),
        project_manager_projects=("25-201", "25-203"),
        night_project="25-203",
        cost_codes=(
            ("01.100", "General Conditions"),
            ("01.560", "Temporary Barriers and Enclosures"),
            ("03.100", "Concrete Formwork"),
            ("03.150", "Concrete Accessories"),
            ("03.200", "Concrete Reinforcing"),
            ("03.300", "Cast-in-Place Concrete"),
            ("03.350", "Concrete Finishing"),
            ("03.390", "Concrete Curing"),
            ("03.600", "Grouting"),
            ("31.230", "Excavation and Fill"),
        ),
        worker_count=25,
    ),
)

FIRST_NAMES = (
    "Aaron", "Adriana", "Ahmed", "Alicia", "Andre", "Angela", "Arjun", "Beatriz", "Brandon",
    "Carlos", "Chloe", "Colin", "Darnell", "Deepa", "Diego", "Elena", "Emeka", "Erin", "Farah",
    "Gavin", "Hector", "Imani", "Ivan", "Jamal", "Jasmine", "Kenji", "Kyle", "Lena", "Liam",
    "Lucia", "Malik", "Marco", "Mei", "Nadia", "Noah", "Owen", "Pavel", "Rafael", "Rosa",
    "Ryan", "Sofia", "Tariq", "Tessa", "Victor", "Wei", "Yusuf", "Zoe",
)
LAST_NAMES = (
    "Abbott", "Alvarez", "Andersen", "Bianchi", "Brennan", "Castillo", "Chowdhury", "Costa",
    "Dubois", "Fernandes", "Fraser", "Gallagher", "Gill", "Haddad", "Horvat", "Ibrahim",
    "Jensen", "Kaur", "Kim", "Kowalczyk", "Larsen", "Lopez", "MacLeod", "Mahmoud", "Morrison",
    "Nguyen", "Novak", "O'Brien", "Okoye", "Patel", "Petrov", "Reyes", "Roy", "Santos",
    "Schmidt", "Singh", "Sullivan", "Tremblay", "Walsh", "Wong", "Zhang",
)
REJECTION_REASONS = (
    "Not on the foreman's daily sign-in sheet; confirm the worker was on site.",
    "End time does not match the gate log; resubmit with the correct end time.",
    "Wrong project: the crew was on another site that day.",
    "Worker was on sick leave that day.",
)
OVERTIME_REJECTION_REASONS = (
    "Overtime was not pre-approved by the superintendent.",
    "Overtime belongs on the next day's shift; resubmit.",
)


def demo_emails() -> list[str]:
    """Every login the demo creates."""
    emails = [_login_email(spec, role) for spec in ORGANIZATIONS for role in ROLE_ORDER]
    return [*emails, MULTI_ORGANIZATION_EMAIL]


def _login_email(spec: OrganizationSpec, role: str) -> str:
    local_part = {
        Role.ADMIN: "admin",
        Role.PAYROLL_ADMIN: "payroll",
        Role.PROJECT_MANAGER: "pm",
        Role.VIEWER: "viewer",
    }[role]
    return f"{local_part}@{spec.email_domain}"


def last_dst_change(time_zone: str, *, on_or_before: date, max_days: int = 400) -> date | None:
    """The latest day, not after `on_or_before`, whose UTC offset at noon differs from the day
    before's: the clocks changed during the night leading into it. None for a zone without DST.

    Comparing at noon steps around the change itself, whose local times may not exist.
    """
    zone = ZoneInfo(time_zone)
    day = on_or_before
    for _ in range(max_days):
        before = day - timedelta(days=1)
        if (
            datetime.combine(before, NOON, tzinfo=zone).utcoffset()
            != datetime.combine(day, NOON, tzinfo=zone).utcoffset()
        ):
            return day
        day = before
    return None


def _wall(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    # Wall times are built per day rather than by adding timedeltas to an aware datetime:
    # Python adds on the wall clock, which is exactly what a night across DST must not do.
    return datetime.combine(day, clock(hour, minute), tzinfo=zone)


def _minutes(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    return _wall(day, minutes // 60, minutes % 60, zone)


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    break_minutes: int
    time_type: str
    notes: str = ""


@dataclass
class Block:
    """One worker's stretch of work on one project: a shift and any overtime straight after."""

    project: Project
    cost_code: CostCode
    segments: list[Segment]
    must: bool = False  # placed before the rest, so the DST night cannot be crowded out

    @property
    def start(self) -> datetime:
        return self.segments[0].start

    @property
    def end(self) -> datetime:
        return self.segments[-1].end

    def clashes(self, other: Block) -> bool:
        return self.start < other.end + MIN_REST and other.start < self.end + MIN_REST


@dataclass
class Crew:
    worker: Worker
    projects: list[Project]
    trade: CostCode
    night_crew: bool = False
    leaves_on: date | None = None  # made inactive: no shifts from this day on
    blocks: list[Block] = field(default_factory=list)


@dataclass
class LoadResult:
    organization: Organization
    created: bool
    dst_change: date | None = None
    plexxis: str = ""
    procore: str = ""


class OrganizationLoader:
    """Builds one demo organization. Everything random comes from `rng`, in a fixed order."""

    def __init__(
        self, spec: OrganizationSpec, *, now: datetime, password_hash: str, rng: random.Random
    ) -> None:
        self.spec = spec
        self.now = now
        self.password_hash = password_hash
        self.rng = rng
        self.zone = ZoneInfo(spec.time_zone)
        self.today = now.astimezone(self.zone).date()
        self.first_day = self.today - timedelta(days=WEEKS * 7 - 1)
        self.cost_codes: list[CostCode] = []

    # --- People ------------------------------------------------------------------------------

    def _user(self, email: str, full_name: str) -> User:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email=email, full_name=full_name)
            # One hash computed up front: hashing the same password per user costs seconds.
            user.password = self.password_hash
            user.save(update_fields=["password"])
        return user

    def _organization(self) -> Membership:
        spec = self.spec
        email = _login_email(spec, Role.ADMIN)
        existing = User.objects.filter(email__iexact=email).first()
        if existing is None:
            admin = services.organization_sign_up(
                organization_name=spec.name, time_zone=spec.time_zone, email=email,
                full_name=spec.people[Role.ADMIN], password=DEMO_PASSWORD,
            )
        else:  # left over from a deleted demo organization: sign-up refuses a known email
            admin = services.organization_create(
                user=existing, name=spec.name, time_zone=spec.time_zone
            )
        # The sign-up derives the slug from the name; the demo's URLs use the short one.
        organization = admin.organization
        organization.slug = spec.slug
        organization.save(update_fields=["slug"])
        return admin

    def _member(self, organization: Organization, user: User, role: str) -> Membership:
        # No service adds a member without an invitation email; the demo has no inbox.
        return Membership.objects.create(organization=organization, user=user, role=role)

    # --- Reference data ----------------------------------------------------------------------

    def _workers(self, payroll: Membership) -> list[Worker]:
        spec, rng = self.spec, self.rng
        names: list[tuple[str, str]] = []
        while len(names) < spec.worker_count:
            name = (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
            if name not in names:
                names.append(name)
        workers = []
        for index, (first, last) in enumerate(names):
            local_part = re.sub(r"[^a-z.]", "", f"{first}.{last}".lower())
            workers.append(services.worker_create(
                actor=payroll,
                name=f"{first} {last}",
                employee_number=str(spec.first_employee_number + index),
                email=f"{local_part}@{spec.email_domain}",
                # 555-0100 to 555-0199 are reserved for fiction: no real phone rings.
                phone=f"{spec.area_code}-555-{100 + index:04d}",
            ))
        return workers

    # --- Schedule ----------------------------------------------------------------------------

    def _crews(self, workers: list[Worker], projects: dict[str, Project]) -> list[Crew]:
        rng = self.rng
        night = projects[self.spec.night_project]
        day_projects = [p for code, p in projects.items() if code != self.spec.night_project]
        # Other-zone sites are fly-in jobs: their crews do not commute to a second site.
        local_projects = [p for p in day_projects if not p.time_zone]
        crews = []
        for index, worker in enumerate(workers):
            trade = rng.choice(self.cost_codes)
            if index < 2:
                crews.append(Crew(worker, [night], trade, night_crew=True))
                continue
            home = day_projects[index % len(day_projects)]
            crew_projects = [home]
            if not home.time_zone and rng.random() < 0.4:
                crew_projects.append(rng.choice([p for p in local_projects if p != home] + [night]))
            crews.append(Crew(worker, crew_projects, trade))
        # Two people left three weeks in: inactive now, with history from before.
        for crew in crews[-2:]:
            crew.leaves_on = self.first_day + timedelta(days=20)
        return crews

    def _segment(
        self, day: date, zone: ZoneInfo, start: int, end: int, break_minutes: int,
        time_type: str, notes: str = "",
    ) -> Segment:
        end_day = day + timedelta(days=end // (24 * 60))
        return Segment(
            start=_minutes(day, start, zone), end=_minutes(end_day, end % (24 * 60), zone),
            break_minutes=break_minutes, time_type=time_type, notes=notes,
        )

    def _day_block(self, crew: Crew, day: date) -> Block:
        rng = self.rng
        project = crew.projects[0] if len(crew.projects) == 1 or rng.random() < 0.8 else (
            crew.projects[1]
        )
        zone = ZoneInfo(project.effective_time_zone)
        cost_code = crew.trade if rng.random() < 0.75 else rng.choice(self.cost_codes)
        start = rng.choice([7 * 60] * 7 + [6 * 60 + 30] * 2 + [7 * 60 + 30])
        if day.weekday() == 5:  # Saturday: overtime all day, double time for a pour
            time_type = TimeType.DOUBLE_TIME if rng.random() < 0.25 else TimeType.OVERTIME
            return Block(project, cost_code, [
                self._segment(day, zone, start, start + 6 * 60 + 30, 30, time_type),
            ])
        if rng.random() < 0.04:
            notes = rng.choice(["Left early: medical appointment.", "Rained out at noon."])
            return Block(project, cost_code, [
                self._segment(day, zone, start, start + 5 * 60, 0, TimeType.REGULAR, notes),
            ])
        regular_end = start + 8 * 60 + 30
        segments = [self._segment(day, zone, start, regular_end, 30, TimeType.REGULAR)]
        if rng.random() < 0.1:
            overtime_end = regular_end + rng.choice([90, 120, 150, 180])
            segments.append(self._segment(
                day, zone, regular_end, overtime_end, 0, TimeType.OVERTIME,
                "Stayed to finish the pour.",
            ))
            if rng.random() < 0.25:
                segments.append(self._segment(
                    day, zone, overtime_end, overtime_end + rng.choice([60, 90, 120]), 0,
                    TimeType.DOUBLE_TIME, "Beyond 12 hours: double time.",
                ))
        return Block(project, cost_code, segments)

    def _night_block(
        self, crew: Crew, day: date, *, notes: str = "", must: bool = False
    ) -> Block:
        project = crew.projects[0]
        zone = ZoneInfo(project.effective_time_zone)
        time_type = TimeType.OVERTIME if day.weekday() >= 5 else TimeType.REGULAR
        # 22:00 to 06:00: the shift belongs to the day it starts on.
        segment = self._segment(day, zone, 22 * 60, 30 * 60, 30, time_type, notes)
        return Block(project, crew.trade, [segment], must=must)

    def _dst_night(self, night_project: Project) -> date | None:
        """The night of the latest DST change whose 22:00-06:00 shift is already over."""
        zone_name = night_project.effective_time_zone
        change = last_dst_change(zone_name, on_or_before=self.today)
        while change is not None and _wall(change, 6, 0, ZoneInfo(zone_name)) > self.now:
            change = last_dst_change(zone_name, on_or_before=change - timedelta(days=1))
        return change

    def _plan(self, crews: list[Crew], dst_change: date | None) -> None:
        rng = self.rng
        days = [self.first_day + timedelta(days=n) for n in range(WEEKS * 7)]
        mondays = sorted({day - timedelta(days=day.weekday()) for day in days})
        night_weeks = {mondays[-5], mondays[-3]}
        saturdays = [day for day in days if day.weekday() == 5]
        work_saturdays = set(saturdays[-2::-2])
        for crew in crews:
            candidates: list[Block] = []
            if crew.night_crew and dst_change is not None:
                candidates.append(self._night_block(
                    crew, dst_change - timedelta(days=1), must=True,
                    notes="Night pour across the daylight-saving change.",
                ))
            for day in days:
                if crew.leaves_on is not None and day >= crew.leaves_on:
                    break
                weekday = day.weekday()
                monday = day - timedelta(days=weekday)
                if crew.night_crew and monday in night_weeks and weekday < 5:
                    if weekday < 4 and rng.random() < 0.95:
                        candidates.append(self._night_block(crew, day))
                elif weekday < 5:
                    if rng.random() < 0.92:
                        candidates.append(self._day_block(crew, day))
                elif day in work_saturdays and rng.random() < 0.35:
                    candidates.append(self._day_block(crew, day))
            placed: list[Block] = []
            for block in sorted(candidates, key=lambda b: (not b.must, b.start)):
                if block.end <= self.now and not any(block.clashes(p) for p in placed):
                    placed.append(block)
            crew.blocks = sorted(placed, key=lambda b: b.start)

    def _open_shift(self, crew: Crew, minutes_late: int) -> tuple[datetime, str]:
        """The start (and notes) of a shift punched in and not yet out: this morning's, or a
        call-out a couple of hours ago when the demo is loaded at night."""
        zone = ZoneInfo(crew.projects[0].effective_time_zone)
        start = _minutes(self.now.astimezone(zone).date(), 7 * 60 + minutes_late, zone)
        notes = ""
        if not self.now - timedelta(hours=10) <= start <= self.now - timedelta(minutes=15):
            early = self.now - timedelta(hours=2, minutes=minutes_late)
            start = early.replace(minute=early.minute - early.minute % 15, second=0, microsecond=0)
            notes = "Call-out: pump failure on site."
        # Whatever this worker had planned from then on has not happened.
        crew.blocks = [block for block in crew.blocks if block.end <= start]
        return start, notes

    # --- Writing -----------------------------------------------------------------------------

    def _decide(self, shift: Shift, deciders: list[Membership]) -> None:
        rng = self.rng
        recent = shift.work_date > self.today - timedelta(days=7)
        if recent:
            if rng.random() < 0.15:
                self._approve(shift, deciders, approve=True)
            return
        if rng.random() < 0.04:
            reasons = (
                REJECTION_REASONS if shift.time_type == TimeType.REGULAR
                else OVERTIME_REJECTION_REASONS
            )
            self._approve(shift, deciders, approve=False, reason=rng.choice(reasons))
        else:
            self._approve(shift, deciders, approve=True)

    def _approve(
        self, shift: Shift, deciders: list[Membership], *, approve: bool, reason: str = ""
    ) -> None:
        payroll, project_manager = deciders
        actor = payroll
        if shift.project.code in self.spec.project_manager_projects and self.rng.random() < 0.5:
            actor = project_manager  # the site's own manager approves half of its time
        services.shift_decide(actor=actor, shift=shift, approve=approve, reason=reason)

    def load(self) -> LoadResult:
        spec, rng = self.spec, self.rng
        admin = self._organization()
        organization = admin.organization
        people = {Role.ADMIN: admin}
        for role in ROLE_ORDER[1:]:
            user = self._user(_login_email(spec, role), spec.people[role])
            people[role] = self._member(organization, user, role)
        multi = self._user(MULTI_ORGANIZATION_EMAIL, MULTI_ORGANIZATION_NAME)
        self._member(organization, multi, Role.PAYROLL_ADMIN)
        payroll = people[Role.PAYROLL_ADMIN]

        projects = {}
        for code, name, zone in spec.projects:
            project = services.project_create(actor=payroll, code=code, name=name, time_zone=zone)
            project.organization = organization  # spares a query per shift in work_date
            projects[code] = project
        project_manager = people[Role.PROJECT_MANAGER]
        project_manager.assigned_projects.set(
            [projects[code] for code in spec.project_manager_projects]
        )
        self.cost_codes = [
            services.cost_code_create(actor=payroll, code=code, name=name)
            for code, name in spec.cost_codes
        ]
        workers = self._workers(payroll)

        crews = self._crews(workers, projects)
        dst_change = self._dst_night(projects[spec.night_project])
        self._plan(crews, dst_change)
        day_crews = [crew for crew in crews if not crew.night_crew and crew.leaves_on is None]
        open_crews = rng.sample(day_crews, 2)
        open_shifts = {
            crew.worker.pk: self._open_shift(crew, 15 * n) for n, crew in enumerate(open_crews)
        }

        result = LoadResult(organization=organization, created=True, dst_change=dst_change)
        deciders = [payroll, project_manager]
        for crew in crews:
            for block in crew.blocks:
                for segment in block.segments:
                    shift = services.shift_create(
                        actor=payroll, worker=crew.worker, project=block.project,
                        start=segment.start, end=segment.end,
                        break_minutes=segment.break_minutes, cost_code=block.cost_code,
                        time_type=segment.time_type, notes=segment.notes,
                    )
                    if block.must:  # the DST night is the demo's showcase: approved, syncable
                        services.shift_decide(actor=payroll, shift=shift, approve=True)
                    else:
                        self._decide(shift, deciders)
            if crew.worker.pk in open_shifts:
                open_start, notes = open_shifts[crew.worker.pk]
                services.shift_create(
                    actor=payroll, worker=crew.worker, project=crew.projects[0],
                    start=open_start, end=None, cost_code=crew.trade, notes=notes,
                )
            if crew.leaves_on is not None:
                services.worker_update(actor=payroll, worker=crew.worker, is_active=False)
        return result


def delete_demo() -> list[str]:
    """Delete the demo organizations, everything in them and the demo logins that belong
    nowhere else. Returns the names of the organizations deleted."""
    deleted = []
    for spec in ORGANIZATIONS:
        organization = Organization.objects.filter(slug=spec.slug).first()
        if organization is None:
            continue
        organization_id = organization.pk  # delete() clears it
        # The ledger protects shifts, and shifts protect their workers and projects.
        ExternalRecord.objects.filter(organization=organization).delete()
        SyncRun.objects.filter(organization=organization).delete()
        Shift.objects.filter(organization=organization).delete()
        organization.delete()
        # History rows have no foreign keys to cascade along, and the deletions above have
        # just added one more per row: clear them last.
        for model in (Shift, Project, Worker):
            model.history.filter(organization_id=organization_id).delete()
        deleted.append(organization.name)
    # A demo login that has also joined a real organization keeps its account.
    User.objects.filter(email__in=demo_emails(), memberships__isnull=True).delete()
    return deleted


class Command(BaseCommand):
    help = (
        "Load the demo: two organizations with a login for every role, projects, workers, cost "
        "codes and six weeks of shifts. An organization already loaded is left alone; --reset "
        "deletes the demo organizations and users first. Local development only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset", action="store_true",
            help="Delete the demo organizations (slugs: "
                 f"{', '.join(spec.slug for spec in ORGANIZATIONS)}) and users, then load again.",
        )
        parser.add_argument(
            "--force", action="store_true",
            help="Run even though DEBUG is off. The demo logins share a published password.",
        )

    def handle(self, *args: Any, reset: bool, force: bool, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load the demo with DEBUG off: its logins share a published "
                f"password ({DEMO_PASSWORD!r}), a way in on any real deployment. Pass --force "
                "if this really is a throwaway instance."
            )
        started = time.monotonic()
        results: list[LoadResult] = []
        try:
            with transaction.atomic():
                if reset:
                    self._reset()
                password_hash = ""
                now = timezone.now()
                for index, spec in enumerate(ORGANIZATIONS):
                    existing = Organization.objects.filter(slug=spec.slug).first()
                    if existing is not None:
                        results.append(LoadResult(organization=existing, created=False))
                        continue
                    password_hash = password_hash or make_password(DEMO_PASSWORD)
                    rng = random.Random(SEED + index)  # noqa: S311 - demo data, not secrets
                    loader = OrganizationLoader(
                        spec, now=now, password_hash=password_hash, rng=rng
                    )
                    result = loader.load()
                    result.plexxis = plexxis_demo.connect(result.organization,
                                                          today=timezone.localdate())
                    result.procore = procore_demo.connect(result.organization)
                    results.append(result)
        except (ProtectedError, RestrictedError) as error:
            raise CommandError(
                f"Could not delete the demo organizations: other records still use them "
                f"({error.args[0]}). Nothing was changed."
            ) from error
        self._report(results, elapsed=time.monotonic() - started)

    def _reset(self) -> None:
        plexxis_demo.forget()
        procore_demo.forget()
        for name in delete_demo():
            self.stdout.write(f"Deleted the demo organization {name} and its users.")

    def _report(self, results: list[LoadResult], *, elapsed: float) -> None:
        for result in results:
            organization = result.organization
            if not result.created:
                self.stdout.write(self.style.WARNING(
                    f"{organization.name} ({organization.slug}): already loaded, left as it is. "
                    "Use --reset to load it again."
                ))
                continue
            self.stdout.write(self.style.SUCCESS(
                f"{organization.name} ({organization.slug}, {organization.time_zone}): loaded."
            ))
            if result.dst_change is not None:
                self.stdout.write(
                    f"  Overnight shifts cross the DST change of {result.dst_change:%Y-%m-%d} "
                    f"(the night of {result.dst_change - timedelta(days=1):%a %b %d})."
                )
            if result.plexxis:
                self.stdout.write(f"  {result.plexxis}")
            if result.procore:
                self.stdout.write(f"  {result.procore}")

        slugs = [result.organization.slug for result in results]
        memberships = list(
            Membership.objects.filter(organization__slug__in=slugs, user__email__in=demo_emails())
            .select_related("organization", "user")
        )
        memberships.sort(
            key=lambda m: (m.organization.name, ROLE_ORDER.index(m.role), m.user.email)
        )
        rows = [(m.user.email, m.get_role_display(), m.organization.name) for m in memberships]
        self.stdout.write("")
        self._table(("Email", "Role", "Organization"), rows)
        self.stdout.write(f"\nPassword for every demo login: {DEMO_PASSWORD}\n")

        summary = (
            Organization.objects.filter(slug__in=slugs)
            .annotate(
                project_count=Count("projects", distinct=True),
                active_workers=Count("workers", filter=Q(workers__is_active=True), distinct=True),
                inactive_workers=Count(
                    "workers", filter=Q(workers__is_active=False), distinct=True
                ),
            )
            .order_by("name")
        )
        rows = []
        for organization in summary:
            states = dict(
                Shift.objects.filter(organization=organization, deleted_at__isnull=True)
                .values_list("approval_state")
                .annotate(n=Count("id"))
            )
            open_count = Shift.objects.filter(
                organization=organization, deleted_at__isnull=True, end__isnull=True
            ).count()
            rows.append((
                organization.name,
                str(organization.project_count),
                f"{organization.active_workers} (+{organization.inactive_workers} inactive)",
                str(sum(states.values())),
                str(states.get(ApprovalState.APPROVED, 0)),
                str(states.get(ApprovalState.PENDING, 0)),
                str(states.get(ApprovalState.REJECTED, 0)),
                str(open_count),
            ))
        self._table(
            ("Organization", "Projects", "Workers", "Shifts", "Approved", "Pending", "Rejected",
             "Open"),
            rows,
        )
        self.stdout.write(f"\nDone in {elapsed:.1f} s.")

    def _table(self, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        line = "  ".join(f"{{:<{width}}}" for width in widths)
        for row in [header, tuple("-" * width for width in widths), *rows]:
            self.stdout.write(line.format(*row).rstrip())
