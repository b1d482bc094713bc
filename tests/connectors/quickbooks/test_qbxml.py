"""qbXML on the wire: every request we build is valid qbXML 13.0 by Intuit's own schema, and
QuickBooks' answers are read back request by request."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connectors.quickbooks import qbxml
from connectors.quickbooks.qbxml import (
    ListQuery,
    QbxmlError,
    Ref,
    TimeTracking,
    TimeTrackingAdd,
    TimeTrackingDelete,
    TimeTrackingMod,
    TimeTrackingQuery,
)
from connectors.safe_xml import XML_PARSERS, XMLRejected

GUID = "{6F9619FF-8B86-D011-B42D-00C04FC964FF}"


def a_time(**changes) -> TimeTracking:
    fields = {
        "work_date": date(2026, 11, 30),
        "employee": Ref(list_id="80000001-1403882511"),
        "duration_hours": Decimal("7.75"),
        "customer": Ref(full_name="Northwind Builders:King Street"),
        "service_item": Ref(full_name="Framing"),
        "payroll_wage_item": Ref(full_name="Regular Pay"),
        "notes": "Level 3 decking",
    }
    fields.update(changes)
    return TimeTracking(**fields)


def test_a_message_set_of_every_request_we_send_is_valid_qbxml_13(qbxml_schema):
    document = qbxml.message_set([
        TimeTrackingAdd(request_id="41.2", time=a_time(), external_guid=GUID),
        TimeTrackingMod(request_id="42.5", txn_id="1A2B-1403882511", edit_sequence="1403882600",
                        time=a_time(duration_hours=Decimal("8"))),
        TimeTrackingDelete(request_id="43.3", txn_id="1A2C-1403882511"),
        TimeTrackingQuery(request_id="q1", from_date=date(2026, 11, 30),
                          to_date=date(2026, 12, 6), employee=Ref(list_id="80000001-1403882511")),
        ListQuery(request_id="employees", kind="Employee"),
        ListQuery(request_id="jobs", kind="Customer"),
        ListQuery(request_id="jobs-2", kind="Customer", iterator_id="{A1B2}"),
        ListQuery(request_id="items", kind="ItemService", active_only=True),
        ListQuery(request_id="wages", kind="PayrollItemWage"),
        ListQuery(request_id="classes", kind="Class"),
    ])

    qbxml_schema.validate(document)


def test_a_message_set_starts_with_the_declaration_and_the_qbxml_version():
    document = qbxml.message_set([TimeTrackingDelete(request_id="1", txn_id="1A")])

    assert document.startswith('<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>')
    assert '<QBXMLMsgsRq onError="continueOnError">' in document


def test_text_with_markup_characters_is_escaped_and_still_valid(qbxml_schema):
    time = a_time(notes='Rebar <#4> & "ties"', customer=Ref(full_name="Smith & Sons:Job <1>"))
    document = qbxml.message_set([TimeTrackingAdd(request_id="1", time=time, external_guid=GUID)])

    qbxml_schema.validate(document)
    assert "Rebar &lt;#4&gt; &amp;" in document


def test_an_employee_filter_names_the_employee_one_way_only(qbxml_schema):
    both = Ref(list_id="80000001-1403882511", full_name="Novak, Alicia")
    document = qbxml.message_set([TimeTrackingQuery(
        request_id="q", from_date=date(2026, 11, 30), to_date=date(2026, 11, 30), employee=both)])

    qbxml_schema.validate(document)
    assert "Novak, Alicia" not in document


def test_a_list_without_an_iterator_in_qbxml_13_cannot_be_continued():
    with pytest.raises(ValueError, match="no iterator for the Employee list"):
        qbxml.message_set([ListQuery(request_id="e", kind="Employee", iterator_id="{X}")])


@pytest.mark.parametrize("request_id", ["", "x" * 51])
def test_a_request_id_outside_qbxml_bounds_is_refused(request_id):
    with pytest.raises(ValueError, match="requestID"):
        qbxml.message_set([TimeTrackingDelete(request_id=request_id, txn_id="1A")])


def test_two_requests_with_one_id_are_refused_since_their_answers_could_not_be_told_apart():
    with pytest.raises(ValueError, match="twice"):
        qbxml.message_set([TimeTrackingDelete(request_id="7", txn_id="1A"),
                           TimeTrackingDelete(request_id="7", txn_id="1B")])


@pytest.mark.parametrize(("hours", "text"), [
    (Decimal("8"), "PT8H0M"), (Decimal("7.75"), "PT7H45M"), (Decimal("0.5"), "PT0H30M"),
    (Decimal("7.33"), "PT7H20M"), (Decimal("0"), "PT0H0M"),
])
def test_hours_become_a_duration_to_the_minute(hours, text):
    assert qbxml.duration(hours) == text


@pytest.mark.parametrize(("text", "hours"), [
    ("PT8H30M", Decimal("8.50")), ("PT8H30M0S", Decimal("8.50")), ("PT45M", Decimal("0.75")),
    ("PT7H", Decimal("7.00")), ("PT0H20M", Decimal("0.33")),
])
def test_a_duration_quickbooks_gives_reads_as_hours(text, hours):
    assert qbxml.hours_of(text) == hours


@pytest.mark.parametrize("text", ["8:30", "PT", "P1D", "PTxH"])
def test_a_duration_that_is_not_iso_8601_time_is_an_error(text):
    with pytest.raises(QbxmlError):
        qbxml.hours_of(text)


RESPONSE = b"""<?xml version="1.0" ?>
<QBXML>
<QBXMLMsgsRs>
<TimeTrackingAddRs requestID="41.2" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
<TimeTrackingRet>
<TxnID>1A2B-1403882511</TxnID>
<TimeCreated>2026-11-30T18:01:02-05:00</TimeCreated>
<TimeModified>2026-11-30T18:01:02-05:00</TimeModified>
<EditSequence>1403882600</EditSequence>
<TxnNumber>12</TxnNumber>
<TxnDate>2026-11-30</TxnDate>
<EntityRef><ListID>80000001-1403882511</ListID><FullName>Novak, Alicia</FullName></EntityRef>
<CustomerRef><FullName>Northwind Builders:King Street</FullName></CustomerRef>
<Duration>PT7H45M</Duration>
<Notes>Level 3 decking</Notes>
<BillableStatus>NotBillable</BillableStatus>
<ExternalGUID>{6F9619FF-8B86-D011-B42D-00C04FC964FF}</ExternalGUID>
</TimeTrackingRet>
</TimeTrackingAddRs>
<TimeTrackingAddRs requestID="44.1" statusCode="3120" statusSeverity="Error"
 statusMessage="Object &quot;80000009-1403882511&quot; specified in the request cannot be found." />
<TxnDelRs requestID="43.3" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
<TxnDelType>TimeTracking</TxnDelType><TxnID>1A2C-1403882511</TxnID>
<TimeDeleted>2026-11-30T18:01:03-05:00</TimeDeleted>
</TxnDelRs>
<CustomerQueryRs requestID="jobs" statusCode="0" statusSeverity="Info" statusMessage="Status OK"
 iteratorRemainingCount="499" iteratorID="{A1B2C3}">
<CustomerRet><ListID>8000000A-1403882511</ListID><Name>King Street</Name>
<FullName>Northwind Builders:King Street</FullName><IsActive>true</IsActive>
<ParentRef><ListID>80000005-1403882511</ListID><FullName>Northwind Builders</FullName></ParentRef>
<Sublevel>1</Sublevel></CustomerRet>
</CustomerQueryRs>
<TimeTrackingQueryRs requestID="q1" statusCode="1" statusSeverity="Info"
 statusMessage="A query request did not find a matching object in QuickBooks" />
</QBXMLMsgsRs>
</QBXML>
"""


def test_each_answer_is_read_with_its_request_id_and_status_in_document_order():
    answers = qbxml.read_responses(RESPONSE)

    assert [(a.request_id, a.kind, a.status_code) for a in answers] == [
        ("41.2", "TimeTrackingAdd", 0), ("44.1", "TimeTrackingAdd", 3120), ("43.3", "TxnDel", 0),
        ("jobs", "CustomerQuery", 0), ("q1", "TimeTrackingQuery", 1)]
    assert [a.ok for a in answers] == [True, False, True, True, True]


def test_an_added_time_tracking_comes_back_with_what_reconciles_and_edits_it():
    added = qbxml.read_responses(RESPONSE)[0].time_tracking[0]

    assert added.txn_id == "1A2B-1403882511"
    assert added.edit_sequence == "1403882600"
    assert added.external_guid == GUID
    assert added.duration_hours == Decimal("7.75")
    assert added.employee == Ref(list_id="80000001-1403882511", full_name="Novak, Alicia")


def test_an_unknown_employee_is_a_missing_reference_with_quickbooks_message():
    refused = qbxml.read_responses(RESPONSE)[1]

    assert refused.missing_reference
    assert not refused.retryable
    assert "cannot be found" in refused.message


def test_a_list_page_says_how_many_remain_and_how_to_continue():
    jobs = qbxml.read_responses(RESPONSE)[3]

    assert (jobs.remaining, jobs.iterator_id) == (499, "{A1B2C3}")
    job = jobs.list_records[0]
    assert (job.full_name, job.parent.full_name) == ("Northwind Builders:King Street",
                                                     "Northwind Builders")


def test_the_sample_answers_are_themselves_valid_qbxml(qbxml_schema):
    """So the tests above read what QuickBooks could really send."""
    qbxml_schema.validate(RESPONSE.decode())


def test_a_document_that_is_not_qbxml_is_an_error():
    with pytest.raises(QbxmlError, match="not a qbXML document"):
        qbxml.read_responses(b"<html><body>Proxy error</body></html>")


def test_an_answer_without_a_status_code_is_an_error():
    with pytest.raises(QbxmlError, match="without a status code"):
        qbxml.read_responses(b"<QBXML><QBXMLMsgsRs><TxnDelRs requestID='1'/></QBXMLMsgsRs></QBXML>")


def test_a_response_with_a_document_type_declaration_is_refused_before_parsing():
    hostile = b'<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY x "y">]><QBXML/>'

    with pytest.raises(XMLRejected):
        qbxml.read_responses(hostile)


def test_the_response_parser_is_registered_for_the_xml_attack_suite():
    assert "qbxml_response" in XML_PARSERS
