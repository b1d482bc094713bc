"""qbXML 13.0 on the wire: the message sets we send QuickBooks through the Web Connector, and the
responses we read back. Nothing here knows our models (a connector's wire module never imports
`timesync`): requests are built from plain values, responses come back as plain values.

Why one message set holds many requests: the Web Connector makes one round trip per
sendRequestXML, and QuickBooks answers every request of a set with its own status when the set
says `continueOnError`. So one unknown employee costs that block alone, not the session, and a
week of 1,000 shifts needs a few dozen trips instead of 1,000 (the seed's product sent one).

Each request carries a `requestID` (at most 50 characters, qbXML's limit) that comes back on its
response: it is how a response is tied to the operation that asked for it, whatever order
QuickBooks answers in.

Building goes through ElementTree so every value is escaped; the element order follows
qbxmlops130.xsd exactly (QuickBooks rejects a valid element in the wrong place), and the tests
validate every request built here against Intuit's schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from xml.etree.ElementTree import Element, SubElement, tostring

from connectors.safe_xml import XMLRejected, parse_xml, xml_parser

QBXML_VERSION = "13.0"
MAX_REQUEST_ID = 50
# A page of a QuickBooks list (employees, customers and jobs...) is asked for this many at a time
# with an iterator: a company with 20,000 jobs never arrives in one response.
LIST_PAGE_SIZE = 500
# The largest response we accept from the Web Connector: a list page of LIST_PAGE_SIZE rows
# (customers carry addresses and custom fields) fits with room to spare.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024

OnError = Literal["stopOnError", "continueOnError"]
ListKind = Literal["Employee", "Customer", "ItemService", "PayrollItemWage", "Class"]
LIST_KINDS: tuple[ListKind, ...] = ("Employee", "Customer", "ItemService", "PayrollItemWage",
                                    "Class")
# qbXML 13.0 offers an iterator on these lists only (qbxmlops130.xsd): the lists that grow large
# (customers and jobs, service items). The others come whole in one response.
ITERABLE_KINDS: frozenset[ListKind] = frozenset({"Customer", "ItemService"})

# Status codes QuickBooks gives (qbXML SDK reference), by what we do about them.
STATUS_OK = 0
STATUS_NO_MATCH = 1  # a query found nothing: not an error
STATUS_NOT_FOUND = 500  # a query by id found nothing
STATUS_OBJECT_NOT_FOUND = 3120  # a referenced employee, customer:job or item is unknown
STATUS_INVALID_REFERENCE = 3140
STATUS_EDIT_SEQUENCE_STALE = 3200  # someone changed it in QuickBooks since we read it
RETRYABLE_STATUSES = frozenset({3170, 3175, 3176, 3180})  # locked or could not save: retry
MISSING_REFERENCE_STATUSES = frozenset({STATUS_OBJECT_NOT_FOUND, STATUS_INVALID_REFERENCE})


class QbxmlError(ValueError):
    """A qbXML response we cannot read; str() says why without quoting it."""


# --- What we ask -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A reference to a QuickBooks list element: by ListID when we know it (stable across
    renames), else by FullName (`Customer:Job` for a job)."""

    list_id: str = ""
    full_name: str = ""

    def __post_init__(self) -> None:
        if not (self.list_id or self.full_name):
            raise ValueError("a reference needs a ListID or a FullName")


@dataclass(frozen=True)
class TimeTracking:
    """The fields of one time tracking transaction, in qbXML's order."""

    work_date: date
    employee: Ref
    duration_hours: Decimal
    customer: Ref | None = None
    service_item: Ref | None = None
    class_ref: Ref | None = None
    payroll_wage_item: Ref | None = None
    notes: str = ""
    billable: Literal["Billable", "NotBillable", "HasBeenBilled"] | None = None


@dataclass(frozen=True)
class TimeTrackingAdd:
    request_id: str
    time: TimeTracking
    external_guid: str  # ours, "{8-4-4-4-12}": finds the transaction again after a lost answer


@dataclass(frozen=True)
class TimeTrackingMod:
    request_id: str
    txn_id: str
    edit_sequence: str
    time: TimeTracking


@dataclass(frozen=True)
class TimeTrackingDelete:
    request_id: str
    txn_id: str


@dataclass(frozen=True)
class TimeTrackingQuery:
    """The transactions of a date range, optionally for one employee: how an unknown outcome is
    settled (match our ExternalGUID) and how hours typed in by hand are found."""

    request_id: str
    from_date: date
    to_date: date
    employee: Ref | None = None


@dataclass(frozen=True)
class ListQuery:
    """One page of a QuickBooks list. `iterator_id` empty starts the iteration; QuickBooks'
    answer says how many remain and gives the id that continues it."""

    request_id: str
    kind: ListKind
    iterator_id: str = ""
    active_only: bool = False


QbxmlRequest = (TimeTrackingAdd | TimeTrackingMod | TimeTrackingDelete | TimeTrackingQuery
                | ListQuery)


def message_set(requests: list[QbxmlRequest], *, on_error: OnError = "continueOnError") -> str:
    """The qbXML document for `requests`, in order, as the text sendRequestXML returns."""
    if not requests:
        raise ValueError("a message set needs at least one request")
    seen: set[str] = set()
    root = Element("QBXML")
    messages = SubElement(root, "QBXMLMsgsRq", onError=on_error)
    for request in requests:
        _check_request_id(request.request_id, seen)
        messages.append(_element(request))
    body = tostring(root, encoding="unicode")
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{QBXML_VERSION}"?>\n'
            f"{body}")


def _check_request_id(request_id: str, seen: set[str]) -> None:
    if not request_id or len(request_id) > MAX_REQUEST_ID:
        raise ValueError(f"a requestID is 1 to {MAX_REQUEST_ID} characters")
    if request_id in seen:
        raise ValueError(f"requestID {request_id!r} appears twice in one message set")
    seen.add(request_id)


def _element(request: QbxmlRequest) -> Element:
    if isinstance(request, TimeTrackingAdd):
        outer = Element("TimeTrackingAddRq", requestID=request.request_id)
        add = SubElement(outer, "TimeTrackingAdd")
        _time_fields(add, request.time)
        _text(add, "ExternalGUID", request.external_guid)
        return outer
    if isinstance(request, TimeTrackingMod):
        outer = Element("TimeTrackingModRq", requestID=request.request_id)
        mod = SubElement(outer, "TimeTrackingMod")
        _text(mod, "TxnID", request.txn_id)
        _text(mod, "EditSequence", request.edit_sequence)
        _time_fields(mod, request.time)
        return outer
    if isinstance(request, TimeTrackingDelete):
        outer = Element("TxnDelRq", requestID=request.request_id)
        _text(outer, "TxnDelType", "TimeTracking")
        _text(outer, "TxnID", request.txn_id)
        return outer
    if isinstance(request, TimeTrackingQuery):
        outer = Element("TimeTrackingQueryRq", requestID=request.request_id)
        dates = SubElement(outer, "TxnDateRangeFilter")
        _text(dates, "FromTxnDate", request.from_date.isoformat())
        _text(dates, "ToTxnDate", request.to_date.isoformat())
        if request.employee is not None:
            # A filter names the employee one way only (the schema's choice).
            entity = SubElement(outer, "TimeTrackingEntityFilter")
            if request.employee.list_id:
                _text(entity, "ListID", request.employee.list_id)
            else:
                _text(entity, "FullName", request.employee.full_name)
        return outer
    return _list_query(request)


def _list_query(request: ListQuery) -> Element:
    attributes = {"requestID": request.request_id}
    iterable = request.kind in ITERABLE_KINDS
    if request.iterator_id and not iterable:
        raise ValueError(f"qbXML 13.0 has no iterator for the {request.kind} list")
    if iterable:
        attributes.update({"iterator": "Continue", "iteratorID": request.iterator_id}
                          if request.iterator_id else {"iterator": "Start"})
    outer = Element(f"{request.kind}QueryRq", attributes)
    if iterable:
        _text(outer, "MaxReturned", str(LIST_PAGE_SIZE))
    if request.active_only:
        _text(outer, "ActiveStatus", "ActiveOnly")
    return outer


def _time_fields(parent: Element, time: TimeTracking) -> None:
    _text(parent, "TxnDate", time.work_date.isoformat())
    _ref(parent, "EntityRef", time.employee)
    if time.customer is not None:
        _ref(parent, "CustomerRef", time.customer)
    if time.service_item is not None:
        _ref(parent, "ItemServiceRef", time.service_item)
    _text(parent, "Duration", duration(time.duration_hours))
    if time.class_ref is not None:
        _ref(parent, "ClassRef", time.class_ref)
    if time.payroll_wage_item is not None:
        _ref(parent, "PayrollItemWageRef", time.payroll_wage_item)
    if time.notes:
        _text(parent, "Notes", time.notes[:4095])
    if time.billable is not None:
        _text(parent, "BillableStatus", time.billable)


def _ref(parent: Element, tag: str, ref: Ref) -> None:
    element = SubElement(parent, tag)
    # The schema takes ListID, FullName or both; QuickBooks uses the ListID when both are there.
    if ref.list_id:
        _text(element, "ListID", ref.list_id)
    if ref.full_name:
        _text(element, "FullName", ref.full_name[:209])


def _text(parent: Element, tag: str, value: str) -> None:
    SubElement(parent, tag).text = value


# --- Durations ----------------------------------------------------------------------------------

_DURATION = re.compile(r"^-?PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def duration(hours: Decimal) -> str:
    """Hours as qbXML's duration, to the minute: 7.75 → PT7H45M. QuickBooks keeps minutes;
    sending seconds would make a re-read differ from what we sent."""
    if hours < 0:
        raise ValueError("a duration cannot be negative")
    minutes = int((hours * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return f"PT{minutes // 60}H{minutes % 60}M"


def hours_of(text: str) -> Decimal:
    """qbXML's duration as hours (PT8H30M → 8.5), to the hundredth."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in ("PT", "-PT"):
        raise QbxmlError("a duration QuickBooks gave is not PTnHnMnS")
    h, m, s = (Decimal(part) if part else Decimal(0) for part in match.groups())
    total = h + m / 60 + s / 3600
    return -total.quantize(Decimal("0.01")) if text.strip().startswith("-") else (
        total.quantize(Decimal("0.01")))


# --- What QuickBooks answers --------------------------------------------------------------------


@dataclass(frozen=True)
class TimeTrackingRecord:
    """A time tracking transaction as QuickBooks holds it."""

    txn_id: str
    edit_sequence: str
    work_date: date | None
    employee: Ref | None
    customer: Ref | None
    duration_hours: Decimal | None
    external_guid: str = ""
    service_item: Ref | None = None
    payroll_wage_item: Ref | None = None
    notes: str = ""


@dataclass(frozen=True)
class ListRecord:
    """An element of a QuickBooks list (an employee, a customer or job, an item...)."""

    list_id: str
    full_name: str
    name: str = ""
    is_active: bool = True
    parent: Ref | None = None  # a job's customer
    fields: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Response:
    """QuickBooks' answer to one request of a message set."""

    request_id: str
    kind: str  # the request's name, e.g. "TimeTrackingAdd", "EmployeeQuery", "TxnDel"
    status_code: int
    severity: str
    message: str
    time_tracking: tuple[TimeTrackingRecord, ...] = ()
    list_records: tuple[ListRecord, ...] = ()
    deleted_txn_id: str = ""
    iterator_id: str = ""
    remaining: int = 0

    @property
    def ok(self) -> bool:
        """Done as asked; a query that matched nothing is a good answer too (an empty one)."""
        if self.kind.endswith("Query"):
            return self.status_code in (STATUS_OK, STATUS_NO_MATCH, STATUS_NOT_FOUND)
        return self.status_code == STATUS_OK

    @property
    def missing_reference(self) -> bool:
        return self.status_code in MISSING_REFERENCE_STATUSES

    @property
    def retryable(self) -> bool:
        return self.status_code in RETRYABLE_STATUSES


@xml_parser("qbxml_response", max_bytes=MAX_RESPONSE_BYTES)
def parse_response_xml(data: bytes) -> Element:
    """The qbXML document the Web Connector hands back, parsed safely (no DTD, no entities)."""
    return parse_xml(data, max_bytes=MAX_RESPONSE_BYTES)


def read_responses(data: bytes) -> list[Response]:
    """Every response of a qbXML response document, in document order. A document that is not
    qbXML raises QbxmlError (or XMLRejected for hostile XML): nothing in it is trusted."""
    root = parse_response_xml(data)
    if root.tag != "QBXML":
        raise QbxmlError("the response is not a qbXML document")
    messages = root.find("QBXMLMsgsRs")
    if messages is None:
        raise QbxmlError("the qbXML response holds no message set")
    return [_response(element) for element in messages if element.tag.endswith("Rs")]


def _response(element: Element) -> Response:
    kind = element.tag[: -len("Rs")]
    try:
        status_code = int(element.get("statusCode", ""))
    except ValueError:
        raise QbxmlError(f"{kind} answered without a status code") from None
    records: list[TimeTrackingRecord] = []
    lists: list[ListRecord] = []
    for child in element:
        if child.tag == "TimeTrackingRet":
            records.append(_time_tracking(child))
        elif child.tag.endswith("Ret"):
            lists.append(_list_record(child))
    remaining = element.get("iteratorRemainingCount", "0")
    return Response(
        request_id=element.get("requestID", ""),
        kind=kind,
        status_code=status_code,
        severity=element.get("statusSeverity", ""),
        message=element.get("statusMessage", ""),
        time_tracking=tuple(records),
        list_records=tuple(lists),
        deleted_txn_id=_child_text(element, "TxnID") if kind == "TxnDel" else "",
        iterator_id=element.get("iteratorID", ""),
        remaining=int(remaining) if remaining.isdigit() else 0,
    )


def _time_tracking(element: Element) -> TimeTrackingRecord:
    txn_id = _child_text(element, "TxnID")
    if not txn_id:
        raise QbxmlError("a time tracking transaction came back without a TxnID")
    raw_date = _child_text(element, "TxnDate")
    raw_duration = _child_text(element, "Duration")
    try:
        work_date = date.fromisoformat(raw_date) if raw_date else None
    except ValueError:
        raise QbxmlError("a time tracking date QuickBooks gave is not YYYY-MM-DD") from None
    return TimeTrackingRecord(
        txn_id=txn_id,
        edit_sequence=_child_text(element, "EditSequence"),
        work_date=work_date,
        employee=_read_ref(element.find("EntityRef")),
        customer=_read_ref(element.find("CustomerRef")),
        duration_hours=hours_of(raw_duration) if raw_duration else None,
        external_guid=_child_text(element, "ExternalGUID"),
        service_item=_read_ref(element.find("ItemServiceRef")),
        payroll_wage_item=_read_ref(element.find("PayrollItemWageRef")),
        notes=_child_text(element, "Notes"),
    )


def _list_record(element: Element) -> ListRecord:
    list_id = _child_text(element, "ListID")
    if not list_id:
        raise QbxmlError(f"a {element.tag[:-3]} came back without a ListID")
    name = _child_text(element, "Name")
    return ListRecord(
        list_id=list_id,
        full_name=_child_text(element, "FullName") or name,
        name=name,
        is_active=_child_text(element, "IsActive") != "false",
        parent=_read_ref(element.find("ParentRef")),
        fields={child.tag: (child.text or "") for child in element if len(child) == 0},
    )


def _read_ref(element: Element | None) -> Ref | None:
    if element is None:
        return None
    list_id, full_name = _child_text(element, "ListID"), _child_text(element, "FullName")
    return Ref(list_id=list_id, full_name=full_name) if (list_id or full_name) else None


def _child_text(element: Element, tag: str) -> str:
    child = element.find(tag)
    return (child.text or "").strip() if child is not None else ""


__all__ = [
    "LIST_KINDS", "ListQuery", "ListRecord", "QbxmlError", "QbxmlRequest", "Ref", "Response",
    "TimeTracking", "TimeTrackingAdd", "TimeTrackingDelete", "TimeTrackingMod",
    "TimeTrackingQuery", "TimeTrackingRecord", "XMLRejected", "duration", "hours_of",
    "message_set", "read_responses",
]
