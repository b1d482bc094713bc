"""The reference catalog: the remote's lists, fetched outside any transaction by a Celery task,
replaced in one short transaction, and the only thing matching reads."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from connectors.base import RemoteWorker, TransientError
from timesync import tasks
from timesync.models import CatalogItem, CatalogKind, ReferenceCatalog, WorkerLink
from timesync.sync import catalog
from timesync.sync import services as sync_services

pytestmark = pytest.mark.django_db


def held(world, kind: str = CatalogKind.WORKER) -> list[str]:
    return sorted(CatalogItem.objects.filter(integration=world.integration, kind=kind)
                  .values_list("remote_id", flat=True))


def test_the_fetch_task_is_named_for_its_queue():
    assert tasks.fetch_reference_catalog.name == "timesync.tasks.fetch_reference_catalog"


def test_the_fetch_task_fills_the_catalog_with_the_remotes_lists(world):
    world.emulator.seed(employees=[{"code": "2001", "first_name": "Dee", "last_name": "Park"}])

    tasks.fetch_reference_catalog(integration_id=world.integration.pk)

    assert held(world) == ["1001", "1002", "2001"]
    assert held(world, CatalogKind.PROJECT) == ["24-101", "24-102"]
    assert held(world, CatalogKind.COST_CODE) == ["03.100"]


def test_a_fetch_with_the_remote_down_keeps_the_last_lists_and_records_why(world):
    world.emulator.stop()

    tasks.fetch_reference_catalog(integration_id=world.integration.pk)  # does not raise

    status = catalog.catalog_status(integration=world.integration)
    assert "Could not reach Plexxis" in status.error
    assert not status.fetching
    assert held(world) == ["1001", "1002"]


def test_a_successful_fetch_clears_the_last_error(world):
    world.emulator.inject("server_error", status=503, count=3)
    with pytest.raises(TransientError):
        catalog.catalog_fetch(integration_id=world.integration.pk)

    catalog.catalog_fetch(integration_id=world.integration.pk)

    assert catalog.catalog_status(integration=world.integration).error == ""


def test_matching_reads_the_catalog_not_the_remote(world):
    before = world.emulator.request_count()
    lists = catalog.catalog_lists(integration=world.integration)

    report = catalog.catalog_replace(
        integration=world.integration, workers=lists.workers, projects=lists.projects,
        cost_codes=lists.cost_codes, time_types=[], fetched_at=timezone.now())

    assert report.workers_linked == 2

    assert world.emulator.request_count() == before


def test_lists_older_than_those_held_are_dropped(world):
    # Two fetches finishing out of order: the one that began first must not win.
    fetched_at = ReferenceCatalog.objects.get(integration=world.integration).fetched_at

    report = catalog.catalog_replace(
        integration=world.integration, workers=[], projects=[], cost_codes=[], time_types=[],
        fetched_at=fetched_at - timedelta(seconds=1))

    assert report is None
    assert held(world) == ["1001", "1002"]
    assert WorkerLink.objects.filter(integration=world.integration).count() == 2


def test_lists_landing_after_a_disconnect_bring_no_link_back(world):
    lists = catalog.catalog_lists(integration=world.integration)
    sync_services.integration_disconnect(actor=world.admin, integration=world.integration)

    report = catalog.catalog_replace(
        integration=world.integration, workers=lists.workers, projects=lists.projects,
        cost_codes=lists.cost_codes, time_types=[], fetched_at=timezone.now())

    assert report is None
    assert not WorkerLink.objects.filter(integration=world.integration).exists()
    assert held(world) == []


def test_a_pull_connector_hands_its_lists_as_plain_values(world):
    report = catalog.catalog_replace(
        integration=world.integration,
        workers=[RemoteWorker(remote_id="80000001-1", name="Ana Silva",
                              employee_number="1001")],
        projects=[], cost_codes=[],
        time_types=[catalog.CatalogTimeType(remote_id="OT", name="Overtime")],
        fetched_at=timezone.now())

    assert report.workers_linked == 1
    assert held(world, CatalogKind.TIME_TYPE) == ["OT"]
    assert WorkerLink.objects.get(worker=world.workers["ana"]).remote_worker_id == "80000001-1"


def test_a_remote_record_listed_twice_is_held_once(world):
    twice = RemoteWorker(remote_id="3001", name="Eve Stone", employee_number="3001")

    catalog.catalog_replace(integration=world.integration, workers=[twice, twice], projects=[],
                            cost_codes=[], time_types=[], fetched_at=timezone.now())

    assert held(world) == ["3001"]


# --- Queueing ------------------------------------------------------------------------------


def test_queueing_a_fetch_marks_it_running_for_the_page(world):
    sync_services.integration_catalog_refresh(actor=world.admin, integration=world.integration)
    assert catalog.catalog_status(integration=world.integration).fetching


def test_a_second_request_while_a_fetch_is_queued_queues_nothing_more(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as sent:
        first = sync_services.integration_catalog_refresh(actor=world.admin,
                                                          integration=world.integration)
        second = sync_services.integration_catalog_refresh(actor=world.admin,
                                                           integration=world.integration)
    assert (first, second) == (True, False)
    assert len(sent) == 1


def test_a_fetch_queued_long_ago_and_never_run_can_be_queued_again(world):
    sync_services.integration_catalog_refresh(actor=world.admin, integration=world.integration)
    ReferenceCatalog.objects.filter(integration=world.integration).update(
        fetch_requested_at=timezone.now() - catalog.FETCH_LOST_AFTER - timedelta(seconds=1))

    assert not catalog.catalog_status(integration=world.integration).fetching
    assert sync_services.integration_catalog_refresh(actor=world.admin,
                                                     integration=world.integration)


def test_connecting_queues_a_first_fetch(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as sent:
        integration = sync_services.integration_connect(
            actor=world.admin, kind="plexxis", name="Plexxis Two",
            settings={"base_url": world.emulator.base_url},
            credentials={"api_key": world.emulator.api_key})
    assert len(sent) == 1
    assert catalog.catalog_status(integration=integration).fetching


def test_disconnecting_forgets_the_remotes_lists(world):
    sync_services.integration_disconnect(actor=world.admin, integration=world.integration)
    assert held(world) == []
    assert catalog.catalog_status(integration=world.integration).never_fetched


def test_a_fetch_that_stops_unexpectedly_is_not_shown_running_for_good(world):
    class Broken(Exception):
        pass

    class BrokenConnector:
        def list_workers(self):
            raise Broken

        def close(self):
            pass

    with pytest.raises(Broken):
        catalog.catalog_fetch(integration_id=world.integration.pk, connector=BrokenConnector())

    status = catalog.catalog_status(integration=world.integration)
    assert not status.fetching
    assert "stopped before it finished" in status.error


@pytest.mark.django_db(transaction=True)
def test_two_fetches_landing_at_once_leave_the_newer_lists(world):
    older, newer = timezone.now(), timezone.now() + timedelta(seconds=1)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def land(fetched_at, code: str) -> None:
        try:
            barrier.wait()
            catalog.catalog_replace(
                integration=world.integration,
                workers=[RemoteWorker(remote_id=code, name=f"Worker {code}")], projects=[],
                cost_codes=[], time_types=[], fetched_at=fetched_at)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=land, args=(newer, "NEW")),
               threading.Thread(target=land, args=(older, "OLD"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert held(world) == ["NEW"]
    assert ReferenceCatalog.objects.get(integration=world.integration).fetched_at == newer
