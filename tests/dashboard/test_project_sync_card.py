"""The project page's integration card: the project's link, "Sync Only Approved Shifts", the
last sync of each recent day, and the Sync Timesheet button (preview dialog, confirm, progress,
result), against the live Plexxis emulator of the sync tests."""

from __future__ import annotations

import re

import pytest

from tests import factories
from tests.dashboard.helpers import section, visible_text
from tests.timesync.sync.conftest import WORK_DATE, run_to_completion
from tests.timesync.sync.conftest import emulator as emulator
from tests.timesync.sync.conftest import world as world
from timesync import services
from timesync.models import ProjectLink, Role, SyncRun, SyncState, SyncTrigger

pytestmark = pytest.mark.django_db
DAY = WORK_DATE.isoformat()


def slug(world) -> str:
    return world.project.organization.slug


def project_url(world, project=None) -> str:
    return f"/o/{slug(world)}/projects/{(project or world.project).pk}/"


def card(client, world, project=None) -> tuple[str, str]:
    """The card's visible text and its HTML, for the project page of WORK_DATE."""
    page = client.get(project_url(world, project), {"date": DAY})
    assert page.status_code == 200
    html = page.content.decode()
    start = html.index(f'id="integration-{world.integration.pk}"')
    return section(page.content, "Plexxis V2"), html[start:html.index("</section>", start)]


def member(world, role: str):
    return factories.MembershipFactory(organization=world.project.organization, role=role)


def manager_of(world, project=None):
    manager = member(world, Role.PROJECT_MANAGER)
    manager.assigned_projects.add(project or world.project)
    return manager


def has_sync_button(html: str) -> bool:
    return ">Sync Timesheet</button>" in html


def approved_only(world) -> bool:
    return ProjectLink.objects.get(integration=world.integration,
                                   project=world.project).sync_only_approved


def toggle(client, world, value: str):
    return client.post(
        f"{project_url(world)}integrations/{world.integration.pk}/approved-only/",
        {"sync_only_approved": value, "date": DAY},
    )


# --- Link status and who sees the button ----------------------------------------------------


def test_payroll_admin_sees_the_link_and_the_sync_timesheet_button(world, client):
    client.force_login(world.payroll.user)

    text, html = card(client, world)

    assert "Linked to Plexxis job 24-101" in text
    assert has_sync_button(html)


def test_an_assigned_project_manager_sees_the_sync_timesheet_button(world, client):
    client.force_login(manager_of(world).user)

    text, html = card(client, world)

    assert "Linked to Plexxis job 24-101" in text
    assert has_sync_button(html)


def test_a_viewer_sees_the_link_but_no_sync_timesheet_button(world, client):
    client.force_login(member(world, Role.VIEWER).user)

    text, html = card(client, world)

    assert "Linked to Plexxis job 24-101" in text
    assert not has_sync_button(html)
    assert "/dashboard/preview/" not in html


def test_the_sync_button_asks_for_a_date_and_opens_the_preview_dialog_for_this_project(
    world, client
):
    client.force_login(world.payroll.user)

    _, html = card(client, world)

    preview = f"/o/{slug(world)}/integrations/{world.integration.pk}/dashboard/preview/"
    assert f'hx-get="{preview}"' in html
    assert 'hx-target="#dialog-slot"' in html
    assert f'name="project" value="{world.project.pk}"' in html
    assert 'name="source" value="project"' in html
    assert re.search(rf'<label for="sync-date-{world.integration.pk}">Timesheet date</label>',
                     html)
    assert f'type="date" name="date" value="{DAY}"' in html  # the day on screen


def test_an_unlinked_project_says_so_and_points_an_admin_to_the_mappings(world, client):
    unlinked = factories.ProjectFactory(organization=world.project.organization,
                                        name="Quarry Road", code="24-999")
    client.force_login(world.admin.user)

    text, html = card(client, world, unlinked)

    assert "Not linked No Plexxis job yet: syncing fails until the project is linked." in text
    assert "Link it on the Mappings page" in text
    assert (f'href="/o/{slug(world)}/integrations/{world.integration.pk}/mappings/#projects"'
            in html)
    assert not has_sync_button(html)  # the run would fail: nothing to press


def test_a_project_manager_is_told_to_ask_an_admin_to_link_the_project(world, client):
    unlinked = factories.ProjectFactory(organization=world.project.organization, code="24-999")
    client.force_login(manager_of(world, unlinked).user)

    text, _ = card(client, world, unlinked)

    assert "Not linked" in text
    assert "Ask an admin to link it." in text
    assert "Mappings page" not in text


def test_a_disconnected_integration_has_no_card(world, client):
    world.integration.is_connected = False
    world.integration.save()
    client.force_login(world.payroll.user)

    page = client.get(project_url(world), {"date": DAY})

    assert f'id="integration-{world.integration.pk}"' not in page.content.decode()


# --- Sync Only Approved Shifts --------------------------------------------------------------


def test_payroll_admin_turns_sync_only_approved_shifts_on(world, client):
    client.force_login(world.payroll.user)

    response = toggle(client, world, "true")

    assert response.status_code == 302
    assert response["Location"] == f"{project_url(world)}?date={DAY}"
    assert approved_only(world) is True
    text, html = card(client, world)
    assert "Only approved shifts are sent" in text
    assert 'role="switch" aria-checked="true"' in html


def test_turning_it_on_says_what_it_means(world, client):
    client.force_login(world.payroll.user)

    page = client.post(
        f"{project_url(world)}integrations/{world.integration.pk}/approved-only/",
        {"sync_only_approved": "true", "date": DAY}, follow=True,
    )

    assert ("Sync Only Approved Shifts is on for Plexxis V2: only approved shifts of King "
            "Street Tower are sent.") in visible_text(page.content)


def test_payroll_admin_turns_it_off_again(world, client):
    ProjectLink.objects.filter(project=world.project).update(sync_only_approved=True)
    client.force_login(world.payroll.user)

    toggle(client, world, "false")

    assert approved_only(world) is False


def test_a_viewer_cannot_change_sync_only_approved_shifts(world, client):
    client.force_login(member(world, Role.VIEWER).user)

    response = toggle(client, world, "true")

    assert response.status_code == 403
    assert approved_only(world) is False


def test_a_project_manager_cannot_change_sync_only_approved_shifts(world, client):
    client.force_login(manager_of(world).user)

    response = toggle(client, world, "true")

    assert response.status_code == 403
    assert approved_only(world) is False


def test_a_project_manager_sees_the_setting_without_a_switch(world, client):
    ProjectLink.objects.filter(project=world.project).update(sync_only_approved=True)
    client.force_login(manager_of(world).user)

    text, html = card(client, world)

    assert "Sync Only Approved Shifts On" in text
    assert 'role="switch"' not in html


def test_the_setting_of_an_unlinked_project_cannot_be_switched(world, client):
    unlinked = factories.ProjectFactory(organization=world.project.organization, code="24-999")
    client.force_login(world.payroll.user)

    page = client.post(
        f"/o/{slug(world)}/projects/{unlinked.pk}/integrations/{world.integration.pk}"
        "/approved-only/", {"sync_only_approved": "true"}, follow=True,
    )

    assert "is not linked to a Plexxis job yet" in visible_text(page.content)
    assert not ProjectLink.objects.filter(project=unlinked).exists()


# --- Sync Timesheet: start, progress, result ------------------------------------------------


def start_from_card(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return client.post(
            f"/o/{slug(world)}/integrations/{world.integration.pk}/dashboard/sync/",
            {"project": world.project.pk, "date": DAY, "source": "project"},
        )


def test_the_preview_opened_from_the_card_confirms_into_the_cards_status(world, client):
    world.shift("ana")
    client.force_login(world.payroll.user)

    dialog = client.get(
        f"/o/{slug(world)}/integrations/{world.integration.pk}/dashboard/preview/",
        {"project": world.project.pk, "date": DAY, "source": "project"},
    ).content.decode()

    assert f'hx-target="#sync-status-{world.integration.pk}"' in dialog
    assert "Create 1" in visible_text(dialog)


def test_confirming_starts_a_run_triggered_by_the_sync_timesheet_button(
    world, client, django_capture_on_commit_callbacks
):
    world.shift("ana")
    client.force_login(world.payroll.user)

    response = start_from_card(client, world, django_capture_on_commit_callbacks)

    run = SyncRun.objects.get()
    assert run.trigger == SyncTrigger.PROJECT_BUTTON
    assert (run.project, run.work_date, run.requested_by) == (world.project, WORK_DATE,
                                                              world.payroll.user)
    body = response.content.decode()
    assert "Syncing Jun 3" in visible_text(body)
    assert 'hx-trigger="every 2s"' in body  # the status polls itself while the run is active


def test_the_status_shows_the_result_with_counts_and_the_log_link(
    world, client, django_capture_on_commit_callbacks
):
    world.shift("ana")
    world.shift("cy")  # unknown to Plexxis: skipped
    client.force_login(world.payroll.user)
    start_from_card(client, world, django_capture_on_commit_callbacks)
    run = run_to_completion(SyncRun.objects.get().pk)

    status = client.get(f"/o/{slug(world)}/integrations/{world.integration.pk}/runs/{run.pk}"
                        "/status/").content.decode()

    assert run.state == SyncState.SUCCEEDED_WITH_WARNINGS
    assert "1 created, 0 updated, 0 deleted, 1 skipped" in visible_text(status)
    assert f'href="/o/{slug(world)}/integrations/{world.integration.pk}/logs/{run.pk}/"' in status
    assert "hx-trigger" not in status  # finished: the polling stops


def test_a_run_in_progress_is_shown_on_the_card_and_keeps_polling_after_a_reload(
    world, client, django_capture_on_commit_callbacks
):
    world.shift("ana")
    client.force_login(world.payroll.user)
    start_from_card(client, world, django_capture_on_commit_callbacks)
    run = SyncRun.objects.get()

    _, html = card(client, world)

    status_url = f"/o/{slug(world)}/integrations/{world.integration.pk}/runs/{run.pk}/status/"
    assert f'id="sync-status-{world.integration.pk}"' in html
    assert f'hx-get="{status_url}"' in html


def test_the_card_lists_the_last_sync_of_each_recent_day_with_its_log(world, client):
    world.shift("ana")
    first = run_to_completion(world.start_run().pk)
    world.shift("ben", start_hour=9)
    last = run_to_completion(world.start_run().pk)
    client.force_login(world.payroll.user)

    text, html = card(client, world)

    assert f"/logs/{last.pk}/" in html
    assert f"/logs/{first.pk}/" not in html  # one line per day: the last sync
    assert "Wed Jun 3 Succeeded API" in text
    assert "1 created, 0 updated, 0 deleted, 0 skipped" in text
    assert "Up to date" in text
    assert "Thu May 28 Not synced" in text  # the week before the day on screen


def test_the_card_says_when_shifts_changed_since_the_last_sync(world, client):
    ana = world.shift("ana")
    run_to_completion(world.start_run().pk)
    services.shift_update(actor=world.payroll, shift=ana, break_minutes=45)
    client.force_login(world.payroll.user)

    text, _ = card(client, world)

    assert "1 change since the sync: sync again" in text


def test_an_assigned_project_manager_sees_the_projects_last_sync_and_its_log(world, client):
    world.shift("ana")
    run = run_to_completion(world.start_run().pk)
    client.force_login(manager_of(world).user)

    text, html = card(client, world)

    assert "Wed Jun 3 Succeeded" in text
    assert f"/logs/{run.pk}/" in html
