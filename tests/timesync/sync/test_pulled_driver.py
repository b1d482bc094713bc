"""A connector the remote polls (the QuickBooks Web Connector) shares the engine: operations
are handed out in one request and their answers applied in another, with the same ledger, log
and run as a pushed sync."""

from __future__ import annotations

import pytest

from timesync.models import ExternalRecord, RecordState, SyncLogEntry
from timesync.sync import engine, push, runs
from timesync.sync.ledger import OpKind
from timesync.sync.remotes import connector_for

pytestmark = pytest.mark.django_db


def test_operations_handed_out_in_one_request_are_applied_from_another(world, settings):
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = 60
    for name, hour in (("ana", 7), ("ben", 7), ("ana", 17)):
        world.shift(name, start_hour=hour, hours=3)
    run = world.start_run()
    fence = runs.claim(run.pk).fence

    batch = engine.next_ops(run=run, fence=fence, limit=10)
    assert [op.kind for op in batch.ops] == [OpKind.CREATE] * 3
    # Asked again before the answers came back: nothing is handed out twice.
    again = engine.next_ops(run=run, fence=fence, limit=10)
    assert again.ops == []
    assert again.settle_in > 0

    remote = connector_for(world.integration)  # the remote doing the work it was handed
    results = [push.perform(remote, op) for op in batch.ops]
    engine.apply_results(run=run, fence=fence, results=results)

    assert engine.next_ops(run=run, fence=fence, limit=10).ops == []
    records = ExternalRecord.objects.filter(integration=world.integration)
    assert sorted(r.remote_id for r in records if r.state == RecordState.SYNCED) == sorted(
        e["id"] for e in world.remote_entries())
    assert list(SyncLogEntry.objects.filter(run=run).values_list("outcome", flat=True)) == [
        "created"] * 3
