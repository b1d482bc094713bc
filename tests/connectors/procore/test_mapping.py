"""Our values to Procore's JSON and back (pure functions)."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.base import PermanentError, RejectedEntry, TimecardEntry
from connectors.procore import mapping

TIME_TYPES = {"REG": 11, "OT": 12, "DT": 13}


def make_entry(**overrides: object) -> TimecardEntry:
    values: dict[str, object] = {
        "idempotency_key": "timesync-1-2-3-1", "worker_remote_id": "9100000001",
        "project_remote_id": "7100000001/7200000001", "cost_code_remote_id": "03-100",
        "work_date": date(2025, 3, 10), "hours": Decimal("8"), "time_type": "overtime",
    }
    return TimecardEntry(**{**values, **overrides})


def test_origin_id_is_the_same_for_a_key_and_fits_a_signed_bigint():
    first = mapping.origin_id("timesync-1-2-3-1")

    assert first == mapping.origin_id("timesync-1-2-3-1")
    assert first != mapping.origin_id("timesync-1-2-3-2")
    assert 0 <= first < 2**63


def test_project_ids_split_into_project_and_sub_job():
    assert mapping.split_project_id("7100000001") == (7100000001, None)
    assert mapping.split_project_id("7100000001/7200000001") == (7100000001, 7200000001)


@pytest.mark.parametrize("bad", ["", "24-101", "7/", "7/x"])
def test_a_project_id_that_is_not_procores_is_refused_readably(bad):
    with pytest.raises(PermanentError, match="not a Procore project"):
        mapping.split_project_id(bad)


def test_a_single_entry_carries_ids_as_integers_and_hours_as_a_string():
    body = mapping.entry_to_procore(make_entry(), start_stop=False, time_type_ids=TIME_TYPES,
                                    cost_code_id=5)

    assert body == {
        "party_id": 9100000001, "date": "2025-03-10", "timecard_time_type_id": 12,
        "cost_code_id": 5, "sub_job_id": 7200000001, "description": "", "hours": "8.00",
        "origin_id": mapping.origin_id("timesync-1-2-3-1"), "origin_data": "timesync-1-2-3-1",
    }


def test_a_start_stop_project_needs_the_shift_times():
    with pytest.raises(RejectedEntry, match="start and stop times"):
        mapping.entry_to_procore(make_entry(), start_stop=True, time_type_ids=TIME_TYPES,
                                 cost_code_id=None)


def test_a_time_type_the_company_lacks_is_named():
    with pytest.raises(RejectedEntry, match="no time type for 'double_time'"):
        mapping.entry_to_procore(make_entry(time_type="double_time"), start_stop=False,
                                 time_type_ids={"REG": 11}, cost_code_id=None)


def test_the_bulk_endpoint_takes_whole_hours_only():
    whole = mapping.entry_to_bulk(make_entry(), start_stop=False, time_type_ids=TIME_TYPES,
                                  cost_code_id=None)
    fractional = mapping.entry_to_bulk(make_entry(hours=Decimal("7.5")), start_stop=False,
                                       time_type_ids=TIME_TYPES, cost_code_id=None)

    assert whole["hours"] == 8
    assert whole["project_id"] == 7100000001
    assert fractional is None


def test_start_and_stop_times_with_a_lunch_break_are_not_sent_in_bulk():
    # The bulk endpoint has no lunch_time: Procore would count the break as worked.
    start = datetime(2025, 3, 10, 7, tzinfo=UTC)
    timed = {"start": start, "end": start + timedelta(hours=8, minutes=30)}
    with_lunch = mapping.entry_to_bulk(make_entry(break_minutes=30, **timed), start_stop=True,
                                       time_type_ids=TIME_TYPES, cost_code_id=None)
    without = mapping.entry_to_bulk(make_entry(**timed), start_stop=True,
                                    time_type_ids=TIME_TYPES, cost_code_id=None)

    assert with_lunch is None
    assert without["time_in"] == "2025-03-10T07:00:00+00:00"
    assert "lunch_time" not in without
    assert "hours" not in without


def test_an_entry_is_read_from_its_nested_objects():
    entry = mapping.procore_to_remote_entry({
        "id": 5000000001, "date": "2025-03-10", "hours": "8.0", "origin_data": "k",
        "party": {"id": 9100000001, "name": "Aaron Abbott"},
        "project": {"id": 7100000001}, "sub_job": {"id": 7200000001},
        "cost_code": {"id": 5, "full_code": "03-100"},
        "timecard_time_type": {"id": 12, "abbreviated_time_type": "OT"},
    })

    assert entry.remote_id == "5000000001"
    assert entry.worker_remote_id == "9100000001"
    assert entry.project_remote_id == "7100000001/7200000001"
    assert entry.hours == Decimal("8.00")
    assert entry.extra["time_type"] == "overtime"
    assert entry.extra["cost_code_remote_id"] == "03-100"


def test_an_unreadable_entry_is_a_permanent_error():
    with pytest.raises(PermanentError, match="cannot read"):
        mapping.procore_to_remote_entry({"id": 1, "date": "2025-03-10"})


def test_the_wire_package_never_imports_the_domain():
    """connectors/procore is told what it needs (tokens, budget, policy): importing timesync
    from it would tie the wire format to Django and our models. views.py, the webhook
    endpoint, is the one exception: a view hands Procore's delivery to the domain."""
    package = Path(mapping.__file__).parent
    imported = set()
    for source in package.glob("*.py"):
        if source.name == "views.py":
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {(source.name, alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add((source.name, node.module))

    assert [pair for pair in imported if pair[1].split(".")[0] in ("timesync", "django",
                                                                   "dashboard")] == []
