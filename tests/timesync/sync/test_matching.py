"""Refreshing links: which Plexxis employee, job and cost code each of ours is. Workers by the
integration's rule order (employee number, email, exact name by default), never guessing
between two candidates, never overwriting a link set by hand; projects by number then name;
cost codes by code then exact description (the rule the Mappings page suggests with too)."""

from __future__ import annotations

import pytest

from connectors.base import TransientError
from tests import factories
from timesync.models import CostCodeLink, MatchField, ProjectLink, WorkerLink
from timesync.sync import services as sync_services

pytestmark = pytest.mark.django_db


def refresh(world):
    return sync_services.integration_refresh_links(actor=world.admin,
                                                   integration=world.integration)


def link_of(world, worker) -> tuple[str, str] | None:
    link = WorkerLink.objects.filter(integration=world.integration, worker=worker).first()
    return None if link is None else (link.remote_worker_id, link.matched_by)


def worker(world, name: str, employee_number: str = "", email: str = ""):
    return factories.WorkerFactory(organization=world.project.organization, name=name,
                                   employee_number=employee_number, email=email)


def employee(code: str, first: str, last: str, email: str = "") -> dict:
    return {"code": code, "first_name": first, "last_name": last, "email": email}


# --- Workers --------------------------------------------------------------------------------


def test_a_worker_is_linked_by_employee_number(world):
    dee = worker(world, "Dee Park", employee_number="2001")
    world.emulator.seed(employees=[employee("2001", "Deborah", "Parkinson")])

    refresh(world)

    assert link_of(world, dee) == ("2001", MatchField.EMPLOYEE_NUMBER)


def test_a_worker_without_a_known_number_is_linked_by_email_ignoring_case(world):
    eve = worker(world, "Eve Stone", employee_number="E-77", email="eve.stone@example.com")
    world.emulator.seed(employees=[employee("2002", "Evelyn", "Stone",
                                            email="Eve.Stone@Example.COM")])

    refresh(world)

    assert link_of(world, eve) == ("2002", MatchField.EMAIL)


def test_a_worker_is_linked_by_exact_name_ignoring_case_and_spacing(world):
    finn = worker(world, "  FINN   o'neil ")
    world.emulator.seed(employees=[employee("2003", "Finn", "O'Neil")])

    refresh(world)

    assert link_of(world, finn) == ("2003", MatchField.NAME)


def test_a_name_that_only_starts_the_same_is_not_a_match(world):
    gil = worker(world, "Gil Ross")
    world.emulator.seed(employees=[employee("2004", "Gil", "Rossi")])

    report = refresh(world)

    assert link_of(world, gil) is None
    assert "Gil Ross" in report.workers_unmatched


def test_employee_number_wins_over_email_and_name(world):
    hana = worker(world, "Hana Ito", employee_number="2005", email="hana@example.com")
    world.emulator.seed(employees=[
        employee("2005", "H.", "Ito"),
        employee("2006", "Hana", "Ito", email="hana@example.com"),
    ])

    refresh(world)

    assert link_of(world, hana) == ("2005", MatchField.EMPLOYEE_NUMBER)


def test_email_wins_over_name(world):
    ivan = worker(world, "Ivan Petrov", email="ivan@example.com")
    world.emulator.seed(employees=[
        employee("2007", "I.", "Petrov", email="ivan@example.com"),
        employee("2008", "Ivan", "Petrov"),
    ])

    refresh(world)

    assert link_of(world, ivan) == ("2007", MatchField.EMAIL)


def test_the_integrations_matching_order_is_respected(world):
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     worker_matching=[MatchField.NAME])
    jo = worker(world, "Jo Marsh", employee_number="2009")
    world.emulator.seed(employees=[employee("2009", "Joanne", "Marsh"),
                                   employee("2010", "Jo", "Marsh")])

    refresh(world)

    assert link_of(world, jo) == ("2010", MatchField.NAME)


def test_a_rule_left_out_of_the_order_is_not_used(world):
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     worker_matching=[MatchField.NAME])
    kai = worker(world, "Kai Lund", employee_number="2011")
    world.emulator.seed(employees=[employee("2011", "Kai", "Lundqvist")])

    refresh(world)

    assert link_of(world, kai) is None


def test_two_remote_employees_with_the_same_name_match_neither(world):
    lee = worker(world, "Sam Lee")
    world.emulator.seed(employees=[employee("2012", "Sam", "Lee"),
                                   employee("2013", "Sam", "Lee")])

    report = refresh(world)

    assert link_of(world, lee) is None
    assert "Sam Lee" in report.workers_unmatched


def test_an_ambiguous_name_falls_through_to_nothing_but_a_unique_email_still_links(world):
    lee = worker(world, "Sam Lee", email="sam.lee@example.com")
    world.emulator.seed(employees=[employee("2012", "Sam", "Lee"),
                                   employee("2013", "Sam", "Lee", email="sam.lee@example.com")])

    refresh(world)

    assert link_of(world, lee) == ("2013", MatchField.EMAIL)


def test_two_of_our_workers_with_the_same_name_are_not_both_linked_to_one_employee(world):
    # Two different people called Sam Lee, one Sam Lee in Plexxis: linking both would pay the
    # hours of two people to one employee. The name cannot tell which one it is.
    first = worker(world, "Sam Lee", employee_number="E-1")
    second = worker(world, "Sam Lee", employee_number="E-2")
    world.emulator.seed(employees=[employee("2014", "Sam", "Lee")])

    refresh(world)

    # Picking one of them would be a guess, as it is for two remote Sam Lees: neither.
    assert link_of(world, first) is None
    assert link_of(world, second) is None


def test_a_link_set_by_hand_survives_a_refresh(world):
    cy = world.workers["cy"]
    world.emulator.seed(employees=[employee("3001", "Cyrus", "U.")])
    sync_services.worker_link_set(actor=world.payroll, integration=world.integration,
                                  worker=cy, remote_worker_id="3001")

    refresh(world)

    assert link_of(world, cy) == ("3001", MatchField.MANUAL)


def test_a_link_set_by_hand_wins_over_a_match(world):
    ana = world.workers["ana"]  # employee number 1001 is in Plexxis
    world.emulator.seed(employees=[employee("3002", "Ana", "Silva-Reyes")])
    sync_services.worker_link_set(actor=world.payroll, integration=world.integration,
                                  worker=ana, remote_worker_id="3002")

    refresh(world)

    assert link_of(world, ana) == ("3002", MatchField.MANUAL)


def test_a_worker_no_longer_in_plexxis_loses_the_link_on_refresh(world):
    ben = world.workers["ben"]
    assert link_of(world, ben) == ("1002", MatchField.EMPLOYEE_NUMBER)
    world.emulator.seed(employees=[{"code": "1002", "first_name": "Ben",
                                    "last_name": "Okafor", "active": False}])

    refresh(world)

    assert link_of(world, ben) is None


def test_the_report_counts_what_was_linked_and_names_what_was_not(world):
    report = refresh(world)
    assert report.workers_linked == 2
    assert report.workers_unmatched == ["Cy Unknown"]


# --- Projects and cost codes ----------------------------------------------------------------


def project_link_of(world, project) -> str | None:
    link = ProjectLink.objects.filter(integration=world.integration, project=project).first()
    return None if link is None else link.remote_project_id


def project(world, code: str, name: str):
    return factories.ProjectFactory(organization=world.project.organization, code=code,
                                    name=name)


def test_a_project_is_linked_by_its_number(world):
    parkade = project(world, "24-102", "Parkade (phase 2)")
    refresh(world)
    assert project_link_of(world, parkade) == "24-102"


def test_a_project_with_an_unknown_number_is_linked_by_name_ignoring_case(world):
    parkade = project(world, "P-2", "harbour  PARKADE")
    refresh(world)
    assert project_link_of(world, parkade) == "24-102"


def test_a_projects_number_wins_over_its_name(world):
    world.emulator.seed(jobs=[{"job_number": "24-103", "name": "Lakeshore Lofts"}])
    lofts = project(world, "24-103", "Harbour Parkade")  # named like job 24-102
    refresh(world)
    assert project_link_of(world, lofts) == "24-103"


def test_a_project_on_a_sub_job_is_linked_to_the_sub_job(world):
    world.emulator.seed(jobs=[{"job_number": "24-104", "name": "Union Station",
                               "sub_jobs": [{"code": "02", "name": "East Wing"}]}])
    wing = project(world, "24-104/02", "Union East")
    refresh(world)
    assert project_link_of(world, wing) == "24-104/02"


def test_a_project_matching_nothing_is_reported_and_not_linked(world):
    mill = project(world, "24-999", "Old Mill")
    report = refresh(world)
    assert project_link_of(world, mill) is None
    assert "24-999 Old Mill" in report.projects_unmatched


def test_a_project_link_changed_by_hand_survives_a_refresh(world):
    sync_services.project_link_set(actor=world.payroll, integration=world.integration,
                                   project=world.project, remote_project_id="24-102")
    refresh(world)
    assert project_link_of(world, world.project) == "24-102"


def test_a_cost_code_is_linked_by_its_code(world):
    rebar = factories.CostCodeFactory(organization=world.project.organization, code="03.200",
                                      name="Rebar")
    world.emulator.seed(cost_codes=[{"code": "03.200", "description": "Reinforcing steel"}])

    refresh(world)

    link = CostCodeLink.objects.get(integration=world.integration, cost_code=rebar)
    assert (link.remote_cost_code_id, link.matched_by) == ("03.200", MatchField.CODE)


def test_a_cost_code_unknown_to_plexxis_is_reported_and_not_linked(world):
    misc = factories.CostCodeFactory(organization=world.project.organization, code="99.999",
                                     name="Miscellaneous")

    report = refresh(world)

    assert not CostCodeLink.objects.filter(integration=world.integration,
                                           cost_code=misc).exists()
    assert "99.999 Miscellaneous" in report.cost_codes_unmatched


def test_a_cost_code_numbered_differently_is_linked_by_its_exact_description(world):
    masonry = factories.CostCodeFactory(organization=world.project.organization, code="4200",
                                        name="Masonry  walls")
    world.emulator.seed(cost_codes=[{"code": "04.200", "description": "MASONRY walls"}])

    refresh(world)

    link = CostCodeLink.objects.get(integration=world.integration, cost_code=masonry)
    assert (link.remote_cost_code_id, link.matched_by) == ("04.200", MatchField.NAME)


def test_a_cost_codes_code_wins_over_another_codes_description(world):
    formwork = factories.CostCodeFactory(organization=world.project.organization,
                                         code="03.300", name="Concrete Formwork")
    world.emulator.seed(cost_codes=[{"code": "03.300", "description": "Slab on grade"}])

    refresh(world)

    link = CostCodeLink.objects.get(integration=world.integration, cost_code=formwork)
    assert (link.remote_cost_code_id, link.matched_by) == ("03.300", MatchField.CODE)


def test_two_remote_cost_codes_sharing_a_description_match_neither(world):
    misc = factories.CostCodeFactory(organization=world.project.organization, code="99",
                                     name="General labour")
    world.emulator.seed(cost_codes=[{"code": "01.010", "description": "General labour"},
                                    {"code": "02.010", "description": "General labour"}])

    report = refresh(world)

    assert not CostCodeLink.objects.filter(integration=world.integration,
                                           cost_code=misc).exists()
    assert "99 General labour" in report.cost_codes_unmatched


def test_a_refresh_with_plexxis_down_changes_no_link(world):
    world.emulator.stop()

    with pytest.raises(TransientError):
        refresh(world)

    assert link_of(world, world.workers["ana"]) == ("1001", MatchField.EMPLOYEE_NUMBER)
