"""Response headers under production settings: a Content Security Policy that allows no
inline script or style and no framing, Referrer-Policy, nosniff and X-Frame-Options, on pages
and API answers alike; and templates that keep needing nothing more."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.timesync.api.helpers import url

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


@pytest.fixture
def sign_in_page(client):
    return client.get("/accounts/login/")


@pytest.fixture
def api_answer(api, admin, organization):
    return api(admin).get(url(organization, "projects/"))


@pytest.fixture(params=["sign_in_page", "api_answer"])
def response(request):
    return request.getfixturevalue(request.param)


def test_scripts_come_only_from_our_origin(response):
    assert policy(response)["script-src"] == ["'self'"]


def test_styles_come_only_from_our_origin_with_no_inline_style(response):
    assert policy(response)["style-src"] == ["'self'"]


def test_everything_else_defaults_to_our_origin(response):
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]


def test_no_site_may_frame_us(response):
    assert policy(response)["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"


def test_the_referrer_stays_on_our_origin(response):
    assert response["Referrer-Policy"] == "same-origin"


def test_browsers_may_not_sniff_content_types(response):
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_api_error_carries_the_headers_too(api, organization):
    response = api().get(url(organization, "projects/"))

    assert response.status_code == 401
    assert policy(response)["script-src"] == ["'self'"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_api_docs_allow_inline_style_but_still_no_inline_script(browser_client, admin):
    response = browser_client(admin).get("/api/docs/")

    assert "'unsafe-inline'" in policy(response)["style-src"]
    assert policy(response)["script-src"] == ["'self'"]
    assert policy(response)["frame-ancestors"] == ["'none'"]


def test_every_page_tells_htmx_not_to_add_its_indicator_style(sign_in_page):
    assert b'"includeIndicatorStyles": false' in sign_in_page.content


def _template_files() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("template", _template_files(), ids=lambda path: str(path.name))
def test_no_template_has_inline_script_style_or_event_handlers(template):
    source = template.read_text()

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), "inline <script>"
    assert "<style" not in source, "inline <style>"
    assert not re.search(r"\sstyle=", source), "style attribute"
    assert not re.search(r"\son[a-z]+=", source), "event handler attribute"
    assert "hx-on" not in source, "hx-on (evaluated script)"
    assert "javascript:" not in source
