"""One remote account's rate limit is shared by every worker that calls it: they spend one
budget, fed by the remote's headers, and a long wait reschedules instead of sleeping."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache

from connectors.base import TransientError
from connectors.plexxis.client import PlexxisConnector
from connectors.plexxis.emulator import PlexxisEmulator
from timesync.sync.budget import budget_for
from timesync.sync.remotes import remote_address_policy

API_KEY = "budget-key"


@pytest.fixture
def strict_emulator():
    cache.clear()
    emulator = PlexxisEmulator(api_key=API_KEY, rate_limit=12, rate_window=30)
    emulator.start()
    yield emulator
    emulator.stop()
    cache.clear()


def worker_connector(emulator: PlexxisEmulator) -> PlexxisConnector:
    """What each worker builds for the same integration: its own connection, one budget."""
    return PlexxisConnector(emulator.base_url, API_KEY, budget=budget_for(
        kind="plexxis", base_url=emulator.base_url, credential=API_KEY),
        policy=remote_address_policy())


def test_workers_sharing_an_account_stay_within_its_rate_limit(strict_emulator):
    worker_connector(strict_emulator).list_workers()  # the first answer tells what is left
    barrier = threading.Barrier(3)
    told_to_wait: list[TransientError] = []

    def call_until_told_to_wait():
        connector = worker_connector(strict_emulator)
        barrier.wait()
        for _ in range(20):
            try:
                connector.list_workers()
            except TransientError as error:
                told_to_wait.append(error)
                return

    threads = [threading.Thread(target=call_until_told_to_wait) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = [request.status for request in strict_emulator.request_log()]
    assert 429 not in statuses
    assert len(statuses) == 12  # the whole window's budget, and not one request more
    assert len(told_to_wait) == 3
    assert all(error.retry_after > 2 and not error.maybe_applied for error in told_to_wait)


def test_another_account_has_a_budget_of_its_own(strict_emulator):
    spent = worker_connector(strict_emulator)
    spent.list_workers()
    budget_for(kind="plexxis", base_url=strict_emulator.base_url,
               credential=API_KEY).observe(remaining=0, reset_at=9_999_999_999)
    with pytest.raises(TransientError):
        spent.list_workers()
    other = budget_for(kind="plexxis", base_url=strict_emulator.base_url, credential="other")
    assert other.take() == 0
