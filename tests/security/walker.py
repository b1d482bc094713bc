"""The security walker's parts: every URL pattern from the resolver, the URL of each for a set
of objects, and a fingerprint of every table a request could change.

The walker reads the routes from Django's resolver, so a page or endpoint added later is walked
without touching the tests; a route with a URL parameter the walker does not know fails until
the `objects` map of the `world` fixture in test_walker.py is taught which object it names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import connection
from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

# Parameters that are not ids of tenant data: they are credentials or formats.
NOT_TENANT_IDS = frozenset({
    "token",  # an invitation link's secret: it is the credential, valid across organizations
    "uidb64",  # password reset: Django's signed user id
    "format",  # DRF's format suffix
    # A person's own API token (its public id): not an organization's; another person's id
    # answers 404 (tests/timesync/api/test_api_tokens.py).
    "token_id",
    # Procore's webhook address (connectors/procore/views.py): a random id Procore posts to,
    # with the integration's secret as the proof; a wrong pair answers 401
    # (tests/connectors/procore/test_webhooks.py).
    "public_id",
})
# Every method a browser or an API client can send. OPTIONS is left out: DRF answers it with
# the endpoint's description, the same for any id, ours, theirs or none.
METHODS = ("get", "head", "post", "put", "patch", "delete")
SAFE_METHODS = frozenset({"get", "head"})

# The tables a request could change: our apps (their history tables and many-to-many tables
# included), groups and permissions, and API tokens (DRF's or knox's, whichever is installed).
# Sessions and sign-in records are left out: signing in writes them by design.
FINGERPRINTED_APPS = ("timesync", "dashboard", "auth", "authtoken", "knox")


@dataclass(frozen=True)
class Route:
    name: str
    parameters: frozenset[str]

    @property
    def names_an_object(self) -> bool:
        return bool(self.parameters - NOT_TENANT_IDS - {"organization_slug"})


def _parameters(pattern: object) -> set[str]:
    if isinstance(pattern, RoutePattern):
        return set(pattern.converters)
    return set(pattern.regex.groupindex)


def _walk(resolver: URLResolver, namespace: str = "", inherited: frozenset = frozenset()
          ) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        parameters = inherited | _parameters(entry.pattern)
        if isinstance(entry, URLResolver):
            child_namespace = namespace
            if entry.namespace:
                child_namespace = f"{namespace}{entry.namespace}:"
            yield from _walk(entry, child_namespace, frozenset(parameters))
        elif isinstance(entry, URLPattern) and entry.name:
            yield Route(f"{namespace}{entry.name}", frozenset(parameters))


def tenant_routes() -> list[Route]:
    """Every named route that takes an organization or an object, but the support admin's
    (staff only, outside any organization)."""
    routes = {route for route in _walk(get_resolver()) if not route.name.startswith("admin:")}
    return sorted(
        (r for r in routes if r.parameters - NOT_TENANT_IDS), key=lambda route: route.name
    )


class UnknownParameter(LookupError):
    pass


def url_for(route: Route, organization_slug: str, objects: dict[str, int]) -> str:
    kwargs: dict[str, object] = {}
    for parameter in route.parameters:
        if parameter == "organization_slug":
            kwargs[parameter] = organization_slug
        elif parameter == "format":
            continue
        elif parameter in objects:
            kwargs[parameter] = objects[parameter]
        else:
            raise UnknownParameter(
                f"URL {route.name!r} takes {parameter!r}: teach the `objects` map of the "
                "`world` fixture in tests/security/test_walker.py which object it names, so "
                "the route is walked."
            )
    return reverse(route.name, kwargs=kwargs)


def fingerprinted_models() -> list[type[Model]]:
    return sorted(
        (model
         for config in apps.get_app_configs() if config.label in FINGERPRINTED_APPS
         for model in config.get_models(include_auto_created=True)
         if model._meta.managed and not model._meta.proxy),
        key=lambda model: model._meta.db_table,
    )


def fingerprinted_tables() -> list[str]:
    return [model._meta.db_table for model in fingerprinted_models()]


def fingerprint_query(tables: list[str]) -> str:
    """One statement: per table, its row count and a digest of every row's values (PostgreSQL's
    row-to-text, sorted). Cheap on the walker's few dozen rows, and it sees any column change."""
    quote = connection.ops.quote_name
    # The table names come from the models, never from input.
    parts = [
        f"SELECT '{table}', count(*), "  # noqa: S608
        f"md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {quote(table)} AS t"
        for table in tables
    ]
    return " UNION ALL ".join(parts)


def fingerprint(query: str) -> dict[str, tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(query)
        return {table: (count, digest) for table, count, digest in cursor.fetchall()}


def changed_tables(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]
                   ) -> list[str]:
    return sorted(table for table in before if before[table] != after.get(table))

