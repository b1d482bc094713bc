"""Hours to QuickBooks through the Web Connector, exactly once: the simulator plays the Web
Connector (real SOAP over HTTP to a live server) and the QuickBooks company behind it; every
qbXML request it receives is validated against Intuit's schema."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache

from connectors.quickbooks.simulator import QuickBooksCompany, WebConnector
from tests import factories
from timesync import services
from timesync.models import (
    Integration,
    IntegrationKind,
    MatchField,
    Membership,
    Project,
    ProjectLink,
    Role,
    Shift,
    SyncLogEntry,
    SyncOutcome,
    SyncRun,
    SyncState,
    Worker,
    WorkerLink,
)
from timesync.sync import runs as sync_runs
from timesync.sync import web_connector

pytestmark = pytest.mark.django_db(transaction=True)

WORK_DATE = date(2026, 11, 30)
TORONTO = ZoneInfo("America/Toronto")


@dataclass
class Books:
    """A Timesync organization syncing to a QuickBooks company through a Web Connector."""

    company: QuickBooksCompany
    wc: WebConnector
    payroll: Membership
    integration: Integration
    project: Project
    job: str  # the project's customer:job ListID
    workers: dict[str, Worker]
    employees: dict[str, str]
    schema: object
    shifts: list[Shift] = field(default_factory=list)

    def shift(self, name: str, hours: float = 8.0, day: date = WORK_DATE, start_hour: int = 7,
              **fields) -> Shift:
        start = datetime(day.year, day.month, day.day, start_hour, tzinfo=TORONTO)
        shift = services.shift_create(
            actor=self.payroll, worker=self.workers[name], project=self.project, start=start,
            end=start + timedelta(hours=hours, minutes=30), break_minutes=30, **fields)
        services.shifts_decide(actor=self.payroll, shifts=[shift], approve=True)
        shift.refresh_from_db()
        self.shifts.append(shift)
        return shift

    def sync(self, day: date = WORK_DATE) -> SyncRun:
        return sync_runs.sync_run_start(integration=self.integration, project=self.project,
                                        work_date=day, trigger="api", actor=self.payroll).run

    def in_quickbooks(self, day: date = WORK_DATE) -> list[tuple[str, Decimal]]:
        names = {list_id: name for name, list_id in self.employees.items()}
        return sorted((names.get(txn.employee, txn.employee), txn.hours)
                      for txn in self.company.time_tracking.values() if txn.work_date == day)

    def validate_every_request(self) -> None:
        for request in self.company.requests_seen:
            self.schema.validate(request)


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()


@pytest.fixture
def books(live_server, qbxml_schema, settings) -> Books:
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = 0  # a lost answer is looked up at once
    company = QuickBooksCompany()
    employees = {"ana": company.add_employee("Ana", "Silva", number="1001"),
                 "ben": company.add_employee("Ben", "Okafor", number="1002")}
    customer = company.add_customer("Northwind Builders")
    job = company.add_customer("King Street Tower", parent=customer)
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    payroll = factories.MembershipFactory(organization=organization, role=Role.PAYROLL_ADMIN)
    project = factories.ProjectFactory(organization=organization, name="King Street Tower")
    workers = {
        "ana": factories.WorkerFactory(organization=organization, name="Ana Silva",
                                       employee_number="1001"),
        "ben": factories.WorkerFactory(organization=organization, name="Ben Okafor",
                                       employee_number="1002"),
        "cy": factories.WorkerFactory(organization=organization, name="Cy Newhire",
                                      employee_number="1003"),
    }
    integration = Integration.objects.create(
        organization=organization, kind=IntegrationKind.QUICKBOOKS_DESKTOP, name="QuickBooks")
    sign_in = web_connector.web_connector_account_create(integration=integration)
    wc = WebConnector(url=f"{live_server.url}/qbwc/", user_name=sign_in.account.user_name,
                      password=sign_in.password, company=company)
    # The first session reads QuickBooks' lists; workers and the project link from them.
    wc.run_session()
    return Books(company=company, wc=wc, payroll=payroll, integration=integration,
                 project=project, job=job, workers=workers, employees=employees,
                 schema=qbxml_schema)


def test_the_first_session_reads_quickbooks_lists_and_links_what_matches(books):
    links = {link.worker.name: link.remote_worker_id
             for link in WorkerLink.objects.filter(integration=books.integration)}

    assert links == {"Ana Silva": books.employees["ana"], "Ben Okafor": books.employees["ben"]}
    assert ProjectLink.objects.get(integration=books.integration).remote_project_id == books.job
    books.validate_every_request()


def test_a_session_sends_the_day_once_and_the_run_turns_green(books):
    books.shift("ana", hours=8)
    books.shift("ben", hours=7.5)
    run = books.sync()
    assert run.state == SyncState.WAITING  # until the Web Connector comes

    report = books.wc.run_session()

    run.refresh_from_db()
    assert run.state == SyncState.SUCCEEDED
    assert (run.created_count, run.hours_sent, run.hours_remote) == (2, Decimal("15.50"),
                                                                      Decimal("15.50"))
    assert books.in_quickbooks() == [("ana", Decimal("8.00")), ("ben", Decimal("7.50"))]
    assert report.percents[-1] == 100
    books.validate_every_request()


def test_many_blocks_go_in_one_round_trip(books):
    for start_hour in (6, 9, 12):
        books.shift("ana", hours=2, start_hour=start_hour)
    books.sync()

    report = books.wc.run_session()

    # The day as QuickBooks holds it (hours typed by hand), one trip with the three adds, and
    # the day read back.
    assert report.trips == 3
    assert len(books.company.time_tracking) == 3


def test_a_second_session_sends_nothing(books):
    books.shift("ana")
    books.sync()
    books.wc.run_session()
    requests_before = len(books.company.requests_seen)

    again = books.wc.run_session()

    assert again.authenticate[1] == "none"
    assert len(books.company.requests_seen) == requests_before


def test_an_edit_after_the_sync_arrives_as_a_mod_of_the_same_transaction(books):
    shift = books.shift("ana", hours=8)
    books.sync()
    books.wc.run_session()
    (txn_id,) = books.company.time_tracking

    start = shift.start
    shift = services.shift_update(actor=books.payroll, shift=shift,
                                  end=start + timedelta(hours=10, minutes=30))
    services.shifts_decide(actor=books.payroll, shifts=[shift], approve=True)
    run = books.sync()
    books.wc.run_session()

    run.refresh_from_db()
    assert run.updated_count == 1
    assert list(books.company.time_tracking) == [txn_id]
    assert books.in_quickbooks() == [("ana", Decimal("10.00"))]
    assert any("<TimeTrackingModRq" in request for request in books.company.requests_seen)
    books.validate_every_request()


def test_a_deleted_shift_is_removed_from_quickbooks_with_a_txn_del(books):
    keep = books.shift("ana")
    gone = books.shift("ben")
    books.sync()
    books.wc.run_session()

    services.shift_delete(actor=books.payroll, shift=gone)
    run = books.sync()
    books.wc.run_session()

    run.refresh_from_db()
    assert run.deleted_count == 1
    assert books.in_quickbooks() == [("ana", Decimal("8.00"))]
    assert keep.pk  # untouched
    books.validate_every_request()


@pytest.mark.parametrize("lost_trip", [1, 2])
def test_a_lost_answer_in_any_trip_ends_with_one_transaction_per_shift(books, lost_trip,
                                                                      settings):
    books.shift("ana", hours=8)
    books.shift("ben", hours=6)
    run = books.sync()
    books.wc.lose_answer_of_trips = {lost_trip}

    books.wc.run_session()  # QuickBooks applied the trip; its answer never reached us
    books.wc.lose_answer_of_trips = set()
    settings.QBWC_SESSION_IDLE_SECONDS = 0  # the Web Connector's next scheduled run, later
    books.wc.run_until_idle()

    run.refresh_from_db()
    assert run.state == SyncState.SUCCEEDED
    assert books.in_quickbooks() == [("ana", Decimal("8.00")), ("ben", Decimal("6.00"))]
    books.validate_every_request()


def test_an_employee_unknown_to_quickbooks_skips_only_its_block_with_a_readable_message(books):
    books.shift("ana")
    # Linked by hand to an employee QuickBooks does not have (removed there since).
    WorkerLink.objects.create(organization=books.integration.organization,
                              integration=books.integration, worker=books.workers["cy"],
                              remote_worker_id="80009999-1700000000",
                              matched_by=MatchField.MANUAL)
    books.shift("cy")
    run = books.sync()

    books.wc.run_session()

    run.refresh_from_db()
    assert run.state == SyncState.SUCCEEDED_WITH_WARNINGS
    assert books.in_quickbooks() == [("ana", Decimal("8.00"))]
    skipped = SyncLogEntry.objects.get(run=run, outcome=SyncOutcome.SKIPPED)
    assert skipped.worker_name == "Cy Newhire"
    assert "QuickBooks does not know" in skipped.message


def test_a_session_that_vanishes_is_ended_by_recovery_and_the_run_waits_again(books, settings):
    books.shift("ana")
    run = books.sync()
    books.wc.vanish_after_trip = 1
    books.wc.run_session()
    # Its session went quiet: the next Web Connector may come in.
    settings.QBWC_SESSION_IDLE_SECONDS = 0
    settings.SYNC_RUN_STALE_SECONDS = 0
    from timesync.sync.recovery import sync_runs_recover

    sync_runs_recover()
    run.refresh_from_db()
    assert run.state == SyncState.WAITING
    books.wc.vanish_after_trip = None

    books.wc.run_until_idle()

    run.refresh_from_db()
    assert run.state == SyncState.SUCCEEDED
    assert books.in_quickbooks() == [("ana", Decimal("8.00"))]


def test_two_organizations_web_connectors_never_see_each_others_work(books, live_server):
    other_company = QuickBooksCompany()
    other_org = factories.OrganizationFactory()
    other = Integration.objects.create(organization=other_org, name="QuickBooks",
                                       kind=IntegrationKind.QUICKBOOKS_DESKTOP)
    sign_in = web_connector.web_connector_account_create(integration=other)
    other_wc = WebConnector(url=f"{live_server.url}/qbwc/", user_name=sign_in.account.user_name,
                            password=sign_in.password, company=other_company)
    books.shift("ana")
    books.sync()

    other_reports = other_wc.run_until_idle()  # it reads its own lists, then has nothing to do
    books.wc.run_session()

    assert other_reports[-1].authenticate[1] == "none"

    assert other_company.time_tracking == {}
    assert len(books.company.time_tracking) == 1


def test_hours_typed_into_quickbooks_by_hand_are_reported_not_sent_again(books):
    books.company.enter_by_hand(work_date=WORK_DATE, employee=books.employees["ana"],
                                customer=books.job, hours=Decimal(8))
    books.shift("ana", hours=8)
    books.shift("ben", hours=6)
    run = books.sync()

    books.wc.run_session()

    run.refresh_from_db()
    assert books.in_quickbooks() == [("ana", Decimal("8.00")), ("ben", Decimal("6.00"))]
    assert run.state == SyncState.SUCCEEDED_WITH_WARNINGS
    skipped = SyncLogEntry.objects.get(run=run, outcome=SyncOutcome.SKIPPED)
    assert skipped.worker_name == "Ana Silva"
    assert "typed in by hand" in skipped.message


def test_hand_entered_hours_are_sent_anyway_when_the_integration_says_so(books):
    books.integration.settings = {"hand_entered_hours": "send"}
    books.integration.save()
    books.company.enter_by_hand(work_date=WORK_DATE, employee=books.employees["ana"],
                                customer=books.job, hours=Decimal(8))
    books.shift("ana", hours=8)
    books.sync()

    books.wc.run_session()

    assert books.in_quickbooks() == [("ana", Decimal("8.00")), ("ana", Decimal("8.00"))]


def test_a_long_customer_list_is_read_page_by_page_in_one_session(live_server):
    company = QuickBooksCompany()
    for number in range(600):
        company.add_customer(f"Customer {number:03}")
    job = company.add_customer("Harbour Parkade", parent=company.add_customer("Northwind"))
    organization = factories.OrganizationFactory()
    project = factories.ProjectFactory(organization=organization, name="Harbour Parkade")
    integration = Integration.objects.create(organization=organization, name="QuickBooks",
                                             kind=IntegrationKind.QUICKBOOKS_DESKTOP)
    sign_in = web_connector.web_connector_account_create(integration=integration)
    wc = WebConnector(url=f"{live_server.url}/qbwc/", user_name=sign_in.account.user_name,
                      password=sign_in.password, company=company)

    report = wc.run_session()

    # 602 customers and jobs at 500 a page: two trips, the first one not yet done.
    assert report.trips == 2
    assert report.percents[0] < 100
    assert report.percents[-1] == 100
    assert ProjectLink.objects.get(integration=integration, project=project
                                   ).remote_project_id == job


def test_two_calls_with_one_ticket_at_once_build_one_trip_not_two(books, monkeypatch):
    from timesync.sync import web_connector_trips

    books.shift("ana")
    books.sync()
    ticket = books.wc.call("authenticate", strUserName=books.wc.user_name,
                           strPassword=books.wc.password)[0]
    inside, release = threading.Event(), threading.Event()
    claim = web_connector_trips._claim_waiting

    def held_inside(session, work):  # the first call stops here, holding the session
        if not inside.is_set():
            inside.set()
            release.wait(10)
        claim(session, work)

    monkeypatch.setattr(web_connector_trips, "_claim_waiting", held_inside)
    send = {"ticket": ticket, "strHCPResponse": "", "strCompanyFileName": books.wc.company_file,
            "qbXMLCountry": "US", "qbXMLMajorVers": "13", "qbXMLMinorVers": "0"}
    first: list[str] = []
    caller = threading.Thread(target=lambda: first.append(books.wc.call("sendRequestXML",
                                                                        **send)))
    caller.start()
    assert inside.wait(10)

    second = books.wc.call("sendRequestXML", **send)
    release.set()
    caller.join(20)

    assert second == ""
    assert "<TimeTrackingQueryRq" in first[0]  # the one trip: the day read before any add
