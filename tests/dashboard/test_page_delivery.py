"""How pages travel: a plain GET writes no session, HTML goes compressed to browsers that
accept it."""

from __future__ import annotations

import gzip

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from tests.dashboard.helpers import visible_text

pytestmark = pytest.mark.django_db


def _session_writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries
            if "django_session" in q["sql"] and not q["sql"].startswith("SELECT")]


def test_reading_an_organization_page_again_writes_no_session(client, admin):
    client.force_login(admin.user)
    page = f"/o/{admin.organization.slug}/integrations/"
    client.get(page)  # the first visit remembers the organization
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page)
    assert response.status_code == 200
    assert _session_writes(queries) == []


def test_visiting_another_organization_is_still_remembered(client, admin):
    other = factories.MembershipFactory(user=admin.user)
    client.force_login(admin.user)
    client.get(f"/o/{admin.organization.slug}/integrations/")
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/o/{other.organization.slug}/integrations/")
    assert _session_writes(queries) != []
    assert client.get("/")["Location"] == f"/o/{other.organization.slug}/"


def test_pages_go_gzipped_to_a_browser_that_accepts_it(client, admin):
    client.force_login(admin.user)
    response = client.get(f"/o/{admin.organization.slug}/members/",
                          HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert "Members" in visible_text(gzip.decompress(response.content))


def test_pages_go_plain_to_a_client_that_does_not_ask_for_gzip(client, admin):
    client.force_login(admin.user)
    response = client.get(f"/o/{admin.organization.slug}/members/")
    assert not response.has_header("Content-Encoding")


def test_a_gzipped_page_carries_padding_of_random_length_against_breach(client, admin):
    # BREACH guesses a secret from compressed lengths: each answer's gzip header carries a file
    # name of random length, so the same page never has a length to compare.
    client.force_login(admin.user)
    padding = set()
    for _ in range(10):
        body = client.get(f"/o/{admin.organization.slug}/members/",
                          HTTP_ACCEPT_ENCODING="gzip").content
        assert body[3] & gzip.FNAME
        padding.add(body.index(b"\x00", 10) - 10)
    assert len(padding) > 1


def _membership_reads(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries
            if q["sql"].startswith("SELECT") and 'FROM "timesync_membership"' in q["sql"]]


def test_an_organization_page_reads_the_caller_s_memberships_once(client, admin):
    # The caller's membership (who may do what here) and the header's organization switcher
    # come from one query: each query costs every page about half a millisecond of CPU.
    factories.MembershipFactory(user=admin.user)
    client.force_login(admin.user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/o/{admin.organization.slug}/integrations/")
    assert response.status_code == 200
    assert len(_membership_reads(queries)) == 1


def test_a_page_of_an_organization_one_is_not_an_active_member_of_is_not_found(client, admin):
    stranger = factories.MembershipFactory()
    former = factories.MembershipFactory(user=admin.user, is_active=False)
    client.force_login(admin.user)
    for organization in (stranger.organization, former.organization):
        assert client.get(f"/o/{organization.slug}/integrations/").status_code == 404


def test_a_page_asked_again_reuses_the_database_s_prepared_statements(client, admin):
    # PostgreSQL plans a statement it has prepared once per connection instead of on every
    # page (a third of the database's CPU for a plain page); psycopg prepares a statement once
    # it has run five times on a connection.
    client.force_login(admin.user)
    page = f"/o/{admin.organization.slug}/integrations/"
    for _ in range(6):
        assert client.get(page).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        (prepared,) = cursor.fetchone()
    assert prepared > 0
