"""The .qwc file an admin adds to the QuickBooks Web Connector: it tells the Web Connector where
our service is, which user name to sign in with and how often to run.

The OwnerID and FileID GUIDs must stay the same for an integration: QuickBooks remembers the
application by them (the certificate a company file admin approved), so a new GUID would ask the
QuickBooks admin to authorize the application again. The caller keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class QwcFile:
    app_name: str
    app_id: str
    app_url: str  # our /qbwc/ endpoint
    app_support: str  # a page on the same host
    app_description: str
    user_name: str
    owner_id: str  # "{GUID}"
    file_id: str  # "{GUID}"
    run_every_minutes: int | None = None


def check_urls(app_url: str, app_support: str) -> None:
    """The Web Connector's own rules, so an admin never gets a file it refuses: https except on
    localhost, and the support page on the same host as the service."""
    service, support = urlsplit(app_url), urlsplit(app_support)
    if service.scheme != "https" and service.hostname not in LOCAL_HOSTS:
        raise ValueError("the Web Connector talks only to https addresses, except on localhost")
    if support.hostname != service.hostname:
        raise ValueError("the Web Connector wants the support page on the service's host")


def render(qwc: QwcFile) -> bytes:
    """The .qwc document."""
    check_urls(qwc.app_url, qwc.app_support)
    root = Element("QBWCXML")
    for tag, value in (
        ("AppName", qwc.app_name), ("AppID", qwc.app_id), ("AppURL", qwc.app_url),
        ("AppDescription", qwc.app_description), ("AppSupport", qwc.app_support),
        ("UserName", qwc.user_name), ("OwnerID", qwc.owner_id), ("FileID", qwc.file_id),
        ("QBType", "QBFS"),
    ):
        SubElement(root, tag).text = value
    if qwc.run_every_minutes:
        scheduler = SubElement(root, "Scheduler")
        SubElement(scheduler, "RunEveryNMinutes").text = str(qwc.run_every_minutes)
    # Reads QuickBooks lists and writes time tracking: not read-only.
    SubElement(root, "IsReadOnly").text = "false"
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(root, encoding="utf-8",
                                                                   xml_declaration=False)
