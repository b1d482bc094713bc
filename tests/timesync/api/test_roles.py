"""Who may do what. Admins and payroll admins: everything here. Project managers: only the
shifts of projects assigned to them; they read workers and cost codes but change no reference
data. Viewers: read everything, change nothing."""

from __future__ import annotations

import pytest

from tests import factories
from tests.timesync.api.helpers import TORONTO, errors_of, ids, local, shift_url, url
from timesync.models import ApprovalState, Role, Shift

pytestmark = pytest.mark.django_db

OFFICE_ROLES = pytest.mark.parametrize("role", [Role.ADMIN, Role.PAYROLL_ADMIN])


@pytest.fixture
def assigned(organization, project):
    return project


@pytest.fixture
def unassigned(organization):
    return factories.ProjectFactory(organization=organization, name="Not Theirs")


@pytest.fixture
def manager(member, assigned):
    membership = member(Role.PROJECT_MANAGER)
    membership.assigned_projects.add(assigned)
    return membership


@pytest.fixture
def viewer(member):
    return member(Role.VIEWER)


@pytest.fixture
def shift_on(organization, worker):
    def make(project, **fields):
        return factories.ShiftFactory(organization=organization, project=project,
                                      worker=worker, **fields)

    return make


def shift_body(worker, project):
    return {"worker": worker.pk, "project": project.pk, "start": "2026-07-02T07:00:00-04:00",
            "end": "2026-07-02T15:00:00-04:00", "break_minutes": 30}


def state_of(shift):
    shift.refresh_from_db()
    return shift.approval_state


# --- Office roles --------------------------------------------------------------------------


@OFFICE_ROLES
def test_office_roles_create_a_shift_on_any_project(api, member, organization, worker,
                                                    unassigned, role):
    response = api(member(role)).post(url(organization, "shifts/"),
                                      shift_body(worker, unassigned))
    assert response.status_code == 201, response.content


@OFFICE_ROLES
def test_office_roles_edit_any_shift(api, member, unassigned, shift_on, role):
    shift = shift_on(unassigned)
    response = api(member(role)).patch(shift_url(shift.organization, shift.pk), {"notes": "ok"})
    assert response.status_code == 200, response.content


@OFFICE_ROLES
def test_office_roles_approve_any_shift(api, member, unassigned, shift_on, role):
    shift = shift_on(unassigned)
    response = api(member(role)).post(shift_url(shift.organization, shift.pk, "approve"), {})
    assert response.status_code == 200, response.content
    assert state_of(shift) == ApprovalState.APPROVED


@OFFICE_ROLES
def test_office_roles_delete_any_shift(api, member, unassigned, shift_on, role):
    shift = shift_on(unassigned)
    response = api(member(role)).delete(shift_url(shift.organization, shift.pk))
    assert response.status_code == 204


@pytest.mark.parametrize("role", [Role.ADMIN, Role.PAYROLL_ADMIN, Role.VIEWER])
def test_everyone_but_project_managers_sees_every_projects_shifts(
    api, member, organization, assigned, unassigned, shift_on, role
):
    shifts = [shift_on(assigned), shift_on(unassigned)]
    assert ids(api(member(role)).get(url(organization, "shifts/"))) == [s.pk for s in shifts]


# --- Viewers -------------------------------------------------------------------------------


def test_viewer_reads_a_shift_and_its_history(api, viewer, project, shift_on):
    shift = shift_on(project)
    client = api(viewer)
    assert client.get(shift_url(shift.organization, shift.pk)).status_code == 200
    assert client.get(shift_url(shift.organization, shift.pk, "history")).status_code == 200


def test_viewer_cannot_create_a_shift(api, viewer, organization, worker, project):
    response = api(viewer).post(url(organization, "shifts/"), shift_body(worker, project))
    assert response.status_code == 403
    assert not Shift.objects.exists()


def test_viewer_cannot_edit_a_shift(api, viewer, project, shift_on):
    shift = shift_on(project, notes="")
    response = api(viewer).patch(shift_url(shift.organization, shift.pk), {"notes": "mine"})
    assert response.status_code == 403
    shift.refresh_from_db()
    assert shift.notes == ""


def test_viewer_cannot_delete_a_shift(api, viewer, project, shift_on):
    shift = shift_on(project)
    assert api(viewer).delete(shift_url(shift.organization, shift.pk)).status_code == 403
    assert api(viewer).get(shift_url(shift.organization, shift.pk)).status_code == 200


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_viewer_cannot_decide_a_shift(api, viewer, project, shift_on, action):
    shift = shift_on(project)
    response = api(viewer).post(shift_url(shift.organization, shift.pk, action), {})
    assert response.status_code == 403
    assert state_of(shift) == ApprovalState.PENDING


@pytest.mark.parametrize("action", ["bulk-approve", "bulk-reject"])
def test_viewer_cannot_decide_shifts_in_bulk(api, viewer, organization, project, shift_on,
                                             action):
    shift = shift_on(project)
    response = api(viewer).post(url(organization, f"shifts/{action}/"), {"shift_ids": [shift.pk]})
    assert response.status_code == 403
    assert state_of(shift) == ApprovalState.PENDING


def test_viewer_cannot_punch_in(api, viewer, organization, worker, project):
    response = api(viewer).post(url(organization, "shifts/punch-in/"),
                                {"worker": worker.pk, "project": project.pk})
    assert response.status_code == 403
    assert not Shift.objects.exists()


def test_viewer_cannot_punch_out(api, viewer, organization, worker, project, shift_on):
    shift = shift_on(project, start=local(TORONTO, 2026, 6, 3, 7, 0), end=None)
    response = api(viewer).post(url(organization, "shifts/punch-out/"), {"worker": worker.pk})
    assert response.status_code == 403
    shift.refresh_from_db()
    assert shift.end is None


# --- Project managers: shifts --------------------------------------------------------------


def test_project_manager_lists_only_shifts_of_assigned_projects(
    api, manager, organization, assigned, unassigned, shift_on
):
    mine = shift_on(assigned)
    shift_on(unassigned)
    assert ids(api(manager).get(url(organization, "shifts/"))) == [mine.pk]


def test_project_manager_filtering_by_an_unassigned_project_gets_nothing(
    api, manager, organization, unassigned, shift_on
):
    shift_on(unassigned)
    response = api(manager).get(url(organization, "shifts/"), {"project": unassigned.pk})
    assert ids(response) == []


@pytest.mark.parametrize("action", ["", "history"])
def test_project_manager_cannot_see_a_shift_of_an_unassigned_project(
    api, manager, unassigned, shift_on, action
):
    shift = shift_on(unassigned)
    response = api(manager).get(shift_url(shift.organization, shift.pk, action))
    assert response.status_code == 404


def test_project_manager_creates_a_shift_on_an_assigned_project(
    api, manager, organization, worker, assigned
):
    response = api(manager).post(url(organization, "shifts/"), shift_body(worker, assigned))
    assert response.status_code == 201, response.content


def test_project_manager_cannot_create_a_shift_on_an_unassigned_project(
    api, manager, organization, worker, unassigned
):
    response = api(manager).post(url(organization, "shifts/"), shift_body(worker, unassigned))
    assert "project" in errors_of(response)
    assert not Shift.objects.exists()


def test_project_manager_edits_a_shift_on_an_assigned_project(api, manager, assigned,
                                                               shift_on):
    shift = shift_on(assigned)
    response = api(manager).patch(shift_url(shift.organization, shift.pk), {"break_minutes": 0})
    assert response.status_code == 200, response.content


def test_project_manager_cannot_move_a_shift_onto_an_unassigned_project(
    api, manager, assigned, unassigned, shift_on
):
    shift = shift_on(assigned)
    response = api(manager).patch(shift_url(shift.organization, shift.pk),
                                  {"project": unassigned.pk})
    assert "project" in errors_of(response)
    shift.refresh_from_db()
    assert shift.project == assigned


def test_project_manager_cannot_edit_a_shift_of_an_unassigned_project(
    api, manager, unassigned, shift_on
):
    shift = shift_on(unassigned, notes="")
    response = api(manager).patch(shift_url(shift.organization, shift.pk), {"notes": "mine"})
    assert response.status_code == 404
    shift.refresh_from_db()
    assert shift.notes == ""


def test_project_manager_cannot_delete_a_shift_of_an_unassigned_project(
    api, manager, unassigned, shift_on
):
    shift = shift_on(unassigned)
    assert api(manager).delete(shift_url(shift.organization, shift.pk)).status_code == 404
    shift.refresh_from_db()
    assert shift.deleted_at is None


def test_project_manager_deletes_a_shift_on_an_assigned_project(api, manager, assigned,
                                                                 shift_on):
    shift = shift_on(assigned)
    assert api(manager).delete(shift_url(shift.organization, shift.pk)).status_code == 204


def test_project_manager_approves_a_shift_on_an_assigned_project(api, manager, assigned,
                                                                  shift_on):
    shift = shift_on(assigned)
    response = api(manager).post(shift_url(shift.organization, shift.pk, "approve"), {})
    assert response.status_code == 200, response.content
    assert state_of(shift) == ApprovalState.APPROVED


def test_project_manager_cannot_approve_a_shift_of_an_unassigned_project(
    api, manager, unassigned, shift_on
):
    shift = shift_on(unassigned)
    response = api(manager).post(shift_url(shift.organization, shift.pk, "approve"), {})
    assert response.status_code == 404
    assert state_of(shift) == ApprovalState.PENDING


def test_project_manager_bulk_approve_with_an_unassigned_projects_shift_decides_none(
    api, manager, organization, assigned, unassigned, shift_on
):
    mine, not_mine = shift_on(assigned), shift_on(unassigned)
    response = api(manager).post(url(organization, "shifts/bulk-approve/"),
                                 {"shift_ids": [mine.pk, not_mine.pk]})
    assert "shift_ids" in errors_of(response)
    assert (state_of(mine), state_of(not_mine)) == (ApprovalState.PENDING, ApprovalState.PENDING)


def test_project_manager_punches_in_on_an_assigned_project(api, manager, organization, worker,
                                                           assigned):
    response = api(manager).post(url(organization, "shifts/punch-in/"),
                                 {"worker": worker.pk, "project": assigned.pk})
    assert response.status_code == 201, response.content


def test_project_manager_cannot_punch_in_on_an_unassigned_project(
    api, manager, organization, worker, unassigned
):
    response = api(manager).post(url(organization, "shifts/punch-in/"),
                                 {"worker": worker.pk, "project": unassigned.pk})
    assert "project" in errors_of(response)
    assert not Shift.objects.exists()


def test_project_manager_cannot_punch_out_a_worker_on_an_unassigned_project(
    api, manager, organization, worker, unassigned, shift_on
):
    shift = shift_on(unassigned, start=local(TORONTO, 2026, 6, 3, 7, 0), end=None)
    response = api(manager).post(url(organization, "shifts/punch-out/"), {"worker": worker.pk})
    assert response.status_code in (400, 403)
    shift.refresh_from_db()
    assert shift.end is None


# --- Reference data ------------------------------------------------------------------------

NEW_RECORDS = pytest.mark.parametrize(
    ("path", "body"),
    [
        ("projects/", {"name": "Harbour Tower"}),
        ("workers/", {"name": "Ana Silva"}),
        ("cost-codes/", {"code": "CF-300", "name": "Concrete formwork"}),
    ],
    ids=["projects", "workers", "cost-codes"],
)


@pytest.fixture
def records(organization, assigned):
    """One record of each kind (the project is the manager's assigned one)."""
    return {
        "projects/": assigned,
        "workers/": factories.WorkerFactory(organization=organization),
        "cost-codes/": factories.CostCodeFactory(organization=organization),
    }


@NEW_RECORDS
@pytest.mark.parametrize("role", [Role.PROJECT_MANAGER, Role.VIEWER])
def test_project_managers_and_viewers_cannot_create_reference_data(
    api, member, organization, path, body, role
):
    client = api(member(role))
    assert client.post(url(organization, path), body).status_code == 403
    assert ids(api(member(Role.ADMIN)).get(url(organization, path))) == []


@pytest.mark.parametrize("path", ["projects/", "workers/", "cost-codes/"])
@pytest.mark.parametrize("role", [Role.PROJECT_MANAGER, Role.VIEWER])
def test_project_managers_and_viewers_cannot_update_reference_data(
    api, member, manager, organization, records, path, role
):
    membership = manager if role == Role.PROJECT_MANAGER else member(role)
    record = records[path]
    response = api(membership).patch(url(organization, f"{path}{record.pk}/"), {"name": "Mine"})
    assert response.status_code == 403
    record.refresh_from_db()
    assert record.name != "Mine"


@pytest.mark.parametrize("path", ["workers/", "cost-codes/"])
def test_project_manager_reads_every_worker_and_cost_code(api, manager, organization, records,
                                                          path):
    client = api(manager)
    assert ids(client.get(url(organization, path))) == [records[path].pk]
    assert client.get(url(organization, f"{path}{records[path].pk}/")).status_code == 200


def test_project_manager_lists_only_assigned_projects(api, manager, organization, assigned,
                                                      unassigned):
    assert ids(api(manager).get(url(organization, "projects/"))) == [assigned.pk]


def test_project_manager_cannot_see_an_unassigned_project(api, manager, organization,
                                                          unassigned):
    response = api(manager).get(url(organization, f"projects/{unassigned.pk}/"))
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["projects/", "workers/", "cost-codes/"])
def test_viewer_reads_every_reference_record(api, viewer, organization, records, path):
    client = api(viewer)
    listed = ids(client.get(url(organization, path)))
    assert records[path].pk in listed
    assert client.get(url(organization, f"{path}{records[path].pk}/")).status_code == 200
