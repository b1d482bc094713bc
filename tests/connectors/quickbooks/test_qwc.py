"""The .qwc file: what the Web Connector needs, by its own rules."""

from __future__ import annotations

import pytest
from defusedxml.ElementTree import fromstring

from connectors.quickbooks import qwc

OWNER = "{57F3B9B1-86F1-4FCC-B1EE-566DE1813D20}"
FILE = "{90A44FB5-33D9-4815-AC85-BC87A7E7D1EB}"


def a_file(**changes) -> qwc.QwcFile:
    fields = {
        "app_name": "Timesync (Northwind)", "app_id": "", "user_name": "northwind-qb-1",
        "app_url": "https://timesync.example/qbwc/", "app_support": "https://timesync.example/help/",
        "app_description": "Approved hours to QuickBooks time tracking",
        "owner_id": OWNER, "file_id": FILE, "run_every_minutes": 15,
    }
    fields.update(changes)
    return qwc.QwcFile(**fields)


def test_the_file_names_our_service_the_user_and_the_stable_guids():
    root = fromstring(qwc.render(a_file()))

    assert root.tag == "QBWCXML"
    assert {child.tag: child.text for child in root if len(child) == 0} | {
        "RunEveryNMinutes": root.findtext("Scheduler/RunEveryNMinutes")} == {
        "AppName": "Timesync (Northwind)", "AppID": None, "AppURL": "https://timesync.example/qbwc/",
        "AppDescription": "Approved hours to QuickBooks time tracking",
        "AppSupport": "https://timesync.example/help/", "UserName": "northwind-qb-1",
        "OwnerID": OWNER, "FileID": FILE, "QBType": "QBFS", "IsReadOnly": "false",
        "RunEveryNMinutes": "15"}


def test_without_a_schedule_the_file_has_no_scheduler():
    assert fromstring(qwc.render(a_file(run_every_minutes=None))).find("Scheduler") is None


def test_plain_http_is_allowed_on_localhost_only():
    qwc.render(a_file(app_url="http://127.0.0.1:8000/qbwc/",
                      app_support="http://127.0.0.1:8000/help/"))

    with pytest.raises(ValueError, match="https"):
        qwc.render(a_file(app_url="http://timesync.example/qbwc/",
                          app_support="http://timesync.example/help/"))


def test_the_support_page_must_be_on_the_service_host():
    with pytest.raises(ValueError, match="on the service's host"):
        qwc.render(a_file(app_support="https://elsewhere.example/help/"))


def test_a_name_with_markup_characters_stays_one_value():
    root = fromstring(qwc.render(a_file(app_name="Timesync (Smith & Sons <East>)")))

    assert root.findtext("AppName") == "Timesync (Smith & Sons <East>)"
