"""The one way the project reads XML that comes from outside.

XML sent by another system (the QuickBooks Web Connector's SOAP envelopes and the qbXML inside
them come next) is parsed by `parse_xml` and nothing else. It refuses, before any of it is
expanded or fetched, what XML parsers are attacked with: a document type declaration (every
entity trick needs one: billion laughs, quadratic blowup, external entities reading local files
or calling URLs, external DTDs), entity declarations and external references should a parser
ever get past that, bodies larger than the caller's bound, nesting deeper than any real message,
and malformed text. Each refusal is one exception, `XMLRejected`, with a reason safe to log and
to answer with (it never quotes the document).

Built on defusedxml over the standard library's ElementTree (expat): no network and no file
access are even possible once the DTD is refused. Every function that parses outside XML is
registered with `xml_parser` so that tests/security/test_xml_bombs.py runs every hostile
document against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

# qbXML inside a SOAP envelope nests about a dozen levels; a hundred is far past any real
# message and far below what exhausts a stack or a tree walk.
MAX_DEPTH = 100
# A Web Connector response carrying a page of QuickBooks lists stays well under this.
DEFAULT_MAX_BYTES = 4 * 1024 * 1024


class XMLRejected(ValueError):
    """The document was refused; `reason` says why, without quoting it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _DepthLimitedBuilder(TreeBuilder):
    def __init__(self, max_depth: int) -> None:
        super().__init__()
        self._depth = 0
        self._max_depth = max_depth

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._depth += 1
        if self._depth > self._max_depth:
            raise XMLRejected(f"elements nested deeper than {self._max_depth} levels")
        return super().start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._depth -= 1
        return super().end(tag)


def parse_xml(data: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Element:
    """The root element of `data`, or XMLRejected. `data` is the raw body (bytes: the
    document's own encoding declaration is honoured, and its size is known before parsing)."""
    if not isinstance(data, bytes):
        raise TypeError("parse_xml takes the raw bytes of the document")
    if len(data) > max_bytes:
        raise XMLRejected(f"larger than {max_bytes} bytes")
    parser = DefusedXMLParser(
        target=_DepthLimitedBuilder(max_depth),
        forbid_dtd=True, forbid_entities=True, forbid_external=True,
    )
    try:
        parser.feed(data)
        return parser.close()
    except DTDForbidden:
        raise XMLRejected("a document type declaration (DTD) is not accepted") from None
    except EntitiesForbidden:
        raise XMLRejected("entity declarations are not accepted") from None
    except ExternalReferenceForbidden:
        raise XMLRejected("external references are not accepted") from None
    except ParseError as error:
        # expat's message names a line and column only ("not well-formed (invalid token): line
        # 1, column 5"), never the text.
        raise XMLRejected(f"malformed XML: {error}") from None


@dataclass(frozen=True)
class XMLParser:
    """A registered entry point for outside XML, with the bounds it applies."""

    name: str
    parse: Callable[[bytes], Element]
    max_bytes: int


XML_PARSERS: dict[str, XMLParser] = {}


def xml_parser(name: str, *, max_bytes: int
               ) -> Callable[[Callable[[bytes], Element]], Callable[[bytes], Element]]:
    """Registers a function that parses XML from outside (built on `parse_xml` with
    `max_bytes`), so the security suite attacks it with every hostile document."""

    def register(parse: Callable[[bytes], Element]) -> Callable[[bytes], Element]:
        XML_PARSERS[name] = XMLParser(name=name, parse=parse, max_bytes=max_bytes)
        return parse

    return register


@xml_parser("parse_xml", max_bytes=DEFAULT_MAX_BYTES)
def parse_outside_xml(data: bytes) -> Element:
    """`parse_xml` with the default bounds, for a caller without tighter ones."""
    return parse_xml(data, max_bytes=DEFAULT_MAX_BYTES)
