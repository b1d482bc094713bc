"""A Procore company's real rate limit, met by the shared request budget: the run slows to the
limit and completes, instead of hammering Procore into 429s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.procore.client import ProcoreClient
from connectors.procore.emulator import ProcoreEmulator
from tests.connectors.procore.fixtures import COMPANY_ID, EMULATOR_ALLOWED, SEED
from timesync.sync.budget import budget_for


@pytest.fixture
def tight_procore() -> Iterator[ProcoreEmulator]:
    """Three requests a second, and 700 more people: eight pages of 100, past the limit."""
    emulator = ProcoreEmulator(rate_limit=3, rate_window=1.0)
    emulator.seed(**SEED)
    emulator.seed(people=[{"company_id": COMPANY_ID, "last_name": f"Crew {n}"}
                          for n in range(700)])
    emulator.start()
    yield emulator
    emulator.stop()


def test_the_shared_budget_paces_a_long_list_under_the_rate_limit(tight_procore):
    tokens = tight_procore.issue_tokens()
    client = ProcoreClient(
        tight_procore.api_base_url, COMPANY_ID, lambda: tokens["access_token"],
        policy=EMULATOR_ALLOWED,
        budget=budget_for(kind="procore", base_url=tight_procore.api_base_url,
                          credential=tokens["access_token"]),
    )

    people = client.list_people()

    assert len(people) == 703
    # Eight pages, each answered: the budget waited for the window rather than meet a 429.
    assert [r.status for r in tight_procore.request_log()] == [200] * 8
