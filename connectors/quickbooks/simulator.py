"""A QuickBooks Desktop company and the Web Connector in front of it, for tests, chaos and the
demo (`manage.py qbwc_simulate`).

`QuickBooksCompany` answers qbXML as QuickBooks does: employees, customers and jobs, service
items, payroll wage items and classes; time tracking with TxnID, EditSequence and ExternalGUID;
the status codes QuickBooks gives (3120 for an unknown reference, 3200 for a stale
EditSequence, 1 for a query that matched nothing). `WebConnector` plays the Web Connector: real
SOAP 1.1 over HTTP to our `/qbwc/`, in the order the real one calls (authenticate,
sendRequestXML / receiveResponseXML until 100 %, getLastError on trouble, closeConnection), with
faults: the answer of a trip lost after QuickBooks applied it, connectionError, a session that
never comes back.

Nothing here imports `timesync`: it speaks to us over the wire only.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import requests

from connectors.quickbooks import qbxml
from connectors.quickbooks.soap import CONTENT_TYPE, SOAP_ENV, TNS
from connectors.safe_xml import parse_xml

MAX_BYTES = 16 * 1024 * 1024


@dataclass
class TimeTrackingTxn:
    txn_id: str
    edit_sequence: str
    work_date: date
    employee: str  # ListID
    customer: str  # ListID
    hours: Decimal
    item: str = ""
    wage_item: str = ""
    notes: str = ""
    external_guid: str = ""


@dataclass
class ListElement:
    list_id: str
    name: str
    parent: str = ""  # a job's customer (ListID)
    active: bool = True
    first_name: str = ""  # employees
    last_name: str = ""
    account_number: str = ""  # an employee's or a customer's "Account No."


@dataclass
class QuickBooksCompany:
    """One company file's lists and time tracking, answering qbXML."""

    employees: dict[str, ListElement] = field(default_factory=dict)
    customers: dict[str, ListElement] = field(default_factory=dict)
    items: dict[str, ListElement] = field(default_factory=dict)
    wage_items: dict[str, ListElement] = field(default_factory=dict)
    classes: dict[str, ListElement] = field(default_factory=dict)
    time_tracking: dict[str, TimeTrackingTxn] = field(default_factory=dict)
    requests_seen: list[str] = field(default_factory=list)  # every qbXML request, as sent
    _iterators: dict[str, list[ListElement]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- Lists, as a QuickBooks admin makes them ----------------------------------------------

    def add_employee(self, first_name: str, last_name: str, *, number: str = "") -> str:
        list_id = self._add(self.employees, f"{last_name}, {first_name}")
        employee = self.employees[list_id]
        employee.first_name, employee.last_name = first_name, last_name
        employee.account_number = number
        return list_id

    def add_customer(self, name: str, *, parent: str = "", number: str = "") -> str:
        list_id = self._add(self.customers, name, parent=parent)
        self.customers[list_id].account_number = number
        return list_id

    def add_item(self, name: str) -> str:
        return self._add(self.items, name)

    def add_wage_item(self, name: str) -> str:
        return self._add(self.wage_items, name)

    def _add(self, where: dict[str, ListElement], name: str, *, parent: str = "") -> str:
        list_id = f"{next(self._ids):08X}-1700000000"
        where[list_id] = ListElement(list_id=list_id, name=name, parent=parent)
        return list_id

    def full_name(self, customer_id: str) -> str:
        customer = self.customers[customer_id]
        return (f"{self.full_name(customer.parent)}:{customer.name}" if customer.parent
                else customer.name)

    def enter_by_hand(self, *, work_date: date, employee: str, customer: str,
                      hours: Decimal) -> str:
        """Hours typed into QuickBooks by someone (no ExternalGUID)."""
        with self._lock:
            txn = self._txn(work_date=work_date, employee=employee, customer=customer,
                            hours=hours)
        return txn.txn_id

    def hours(self, *, work_date: date | None = None, customer: str | None = None) -> Decimal:
        return sum((txn.hours for txn in self.time_tracking.values()
                    if (work_date is None or txn.work_date == work_date)
                    and (customer is None or txn.customer == customer)), Decimal(0))

    # --- qbXML --------------------------------------------------------------------------------

    def process(self, request_xml: str) -> str:
        """QuickBooks running a message set: every request answered, each with its status."""
        with self._lock:
            self.requests_seen.append(request_xml)
            root = parse_xml(request_xml.encode("utf-8"), max_bytes=MAX_BYTES)
            messages = root.find("QBXMLMsgsRq")
            out = Element("QBXML")
            answers = SubElement(out, "QBXMLMsgsRs")
            stop = messages.get("onError") == "stopOnError"
            for request in messages:
                answer = self._answer(request)
                answers.append(answer)
                if stop and answer.get("statusSeverity") == "Error":
                    break
            return '<?xml version="1.0" ?>\n' + tostring(out, encoding="unicode")

    def _answer(self, request: Element) -> Element:
        name = request.tag.removesuffix("Rq")
        request_id = request.get("requestID", "")
        handler = {
            "TimeTrackingAdd": self._time_tracking_add, "TimeTrackingMod": self._time_tracking_mod,
            "TxnDel": self._txn_del, "TimeTrackingQuery": self._time_tracking_query,
        }.get(name)
        if handler is None and name.endswith("Query"):
            return self._list_query(name, request)
        if handler is None:
            return _status(Element(f"{name}Rs", requestID=request_id), 3100,
                           f"{name} is not simulated.")
        return handler(Element(f"{name}Rs", requestID=request_id), request)

    def _time_tracking_add(self, answer: Element, request: Element) -> Element:
        add = request.find("TimeTrackingAdd")
        refused = self._unknown_reference(add)
        if refused:
            return _status(answer, 3120, refused)
        txn = self._txn(
            work_date=date.fromisoformat(add.findtext("TxnDate")),
            employee=add.findtext("EntityRef/ListID"),
            customer=add.findtext("CustomerRef/ListID") or "",
            hours=qbxml.hours_of(add.findtext("Duration")),
            item=add.findtext("ItemServiceRef/ListID") or "",
            wage_item=add.findtext("PayrollItemWageRef/ListID") or "",
            notes=add.findtext("Notes") or "", external_guid=add.findtext("ExternalGUID") or "")
        answer.append(_ret(txn))
        return _status(answer, 0, "Status OK")

    def _time_tracking_mod(self, answer: Element, request: Element) -> Element:
        mod = request.find("TimeTrackingMod")
        txn = self.time_tracking.get(mod.findtext("TxnID"))
        if txn is None:
            return _status(answer, 3120, f'Object "{mod.findtext("TxnID")}" specified in the '
                                         "request cannot be found.")
        if mod.findtext("EditSequence") != txn.edit_sequence:
            return _status(answer, 3200, "The provided edit sequence "
                                         f'"{mod.findtext("EditSequence")}" is out-of-date.')
        refused = self._unknown_reference(mod)
        if refused:
            return _status(answer, 3120, refused)
        txn.work_date = date.fromisoformat(mod.findtext("TxnDate"))
        txn.employee = mod.findtext("EntityRef/ListID")
        txn.customer = mod.findtext("CustomerRef/ListID") or ""
        txn.hours = qbxml.hours_of(mod.findtext("Duration"))
        txn.item = mod.findtext("ItemServiceRef/ListID") or ""
        txn.wage_item = mod.findtext("PayrollItemWageRef/ListID") or ""
        txn.notes = mod.findtext("Notes") or ""
        txn.edit_sequence = str(int(txn.edit_sequence) + 1)
        answer.append(_ret(txn))
        return _status(answer, 0, "Status OK")

    def _txn_del(self, answer: Element, request: Element) -> Element:
        txn_id = request.findtext("TxnID")
        if self.time_tracking.pop(txn_id, None) is None:
            return _status(answer, 3120, f'Object "{txn_id}" specified in the request cannot '
                                         "be found.")
        SubElement(answer, "TxnDelType").text = "TimeTracking"
        SubElement(answer, "TxnID").text = txn_id
        return _status(answer, 0, "Status OK")

    def _time_tracking_query(self, answer: Element, request: Element) -> Element:
        start = request.findtext("TxnDateRangeFilter/FromTxnDate")
        end = request.findtext("TxnDateRangeFilter/ToTxnDate")
        employee = request.findtext("TimeTrackingEntityFilter/ListID")
        found = [txn for txn in self.time_tracking.values()
                 if (not start or txn.work_date >= date.fromisoformat(start))
                 and (not end or txn.work_date <= date.fromisoformat(end))
                 and (not employee or txn.employee == employee)]
        for txn in found:
            answer.append(_ret(txn))
        if not found:
            return _status(answer, 1, "A query request did not find a matching object in "
                                      "QuickBooks")
        return _status(answer, 0, "Status OK")

    def _list_query(self, name: str, request: Element) -> Element:
        kind = name.removesuffix("Query")
        where = {"Employee": self.employees, "Customer": self.customers,
                 "ItemService": self.items, "PayrollItemWage": self.wage_items,
                 "Class": self.classes}.get(kind, {})
        answer = Element(f"{name}Rs", requestID=request.get("requestID", ""))
        elements = list(where.values())
        if request.get("iterator"):
            # QuickBooks' iterators: MaxReturned at a time, the rest after iteratorID.
            page = int(request.findtext("MaxReturned") or len(elements) or 1)
            if request.get("iterator") == "Start":
                iterator_id = f"{{{next(self._ids):08X}-0000-0000-0000-000000000000}}"
                self._iterators[iterator_id] = elements
            else:
                iterator_id = request.get("iteratorID", "")
                if iterator_id not in self._iterators:
                    return _status(answer, 3170, "The iterator has expired or does not exist.")
            elements = self._iterators[iterator_id][:page]
            rest = self._iterators[iterator_id] = self._iterators[iterator_id][page:]
            answer.set("iteratorRemainingCount", str(len(rest)))
            answer.set("iteratorID", iterator_id)
        for element in elements:
            ret = SubElement(answer, f"{kind}Ret")
            SubElement(ret, "ListID").text = element.list_id
            SubElement(ret, "Name").text = element.name
            if kind == "Customer":
                SubElement(ret, "FullName").text = self.full_name(element.list_id)
            SubElement(ret, "IsActive").text = "true" if element.active else "false"
            if element.parent:
                parent = SubElement(ret, "ParentRef")
                SubElement(parent, "ListID").text = element.parent
            if element.first_name:
                SubElement(ret, "FirstName").text = element.first_name
                SubElement(ret, "LastName").text = element.last_name
            if element.account_number:
                SubElement(ret, "AccountNumber").text = element.account_number
        return _status(answer, 0 if elements else 1, "Status OK")

    def _unknown_reference(self, element: Element) -> str:
        for path, known in (("EntityRef/ListID", self.employees),
                            ("CustomerRef/ListID", self.customers),
                            ("ItemServiceRef/ListID", self.items),
                            ("PayrollItemWageRef/ListID", self.wage_items)):
            list_id = element.findtext(path)
            if list_id and list_id not in known:
                return (f'There is an invalid reference to QuickBooks {path.split("Ref")[0]} '
                        f'"{list_id}" in the TimeTracking. QuickBooks error message: Invalid '
                        "argument. The specified record does not exist in the list.")
        return ""

    def _txn(self, **fields: Any) -> TimeTrackingTxn:
        txn_id = f"{next(self._ids):X}-1700000000"
        txn = TimeTrackingTxn(txn_id=txn_id, edit_sequence="1700000000", **fields)
        self.time_tracking[txn_id] = txn
        return txn


def _status(answer: Element, code: int, message: str) -> Element:
    answer.set("statusCode", str(code))
    answer.set("statusSeverity", "Error" if code >= 3000 else ("Info" if code == 0 else "Warn"))
    answer.set("statusMessage", message)
    return answer


def _ret(txn: TimeTrackingTxn) -> Element:
    ret = Element("TimeTrackingRet")
    for tag, value in (("TxnID", txn.txn_id), ("TimeCreated", "2026-01-01T00:00:00-05:00"),
                       ("TimeModified", "2026-01-01T00:00:00-05:00"),
                       ("EditSequence", txn.edit_sequence),
                       ("TxnDate", txn.work_date.isoformat())):
        SubElement(ret, tag).text = value
    SubElement(SubElement(ret, "EntityRef"), "ListID").text = txn.employee
    if txn.customer:
        SubElement(SubElement(ret, "CustomerRef"), "ListID").text = txn.customer
    if txn.item:
        SubElement(SubElement(ret, "ItemServiceRef"), "ListID").text = txn.item
    SubElement(ret, "Duration").text = qbxml.duration(txn.hours)
    if txn.wage_item:
        SubElement(SubElement(ret, "PayrollItemWageRef"), "ListID").text = txn.wage_item
    if txn.notes:
        SubElement(ret, "Notes").text = txn.notes
    if txn.external_guid:
        SubElement(ret, "ExternalGUID").text = txn.external_guid
    return ret


# --- The Web Connector ---------------------------------------------------------------------------


@dataclass
class SessionReport:
    """What one Web Connector session did, as its log would show."""

    authenticate: list[str]
    trips: int = 0
    percents: list[int] = field(default_factory=list)
    last_error: str = ""
    closed: str = ""
    lost_trips: int = 0


@dataclass
class WebConnector:
    """The QuickBooks Web Connector on the customer's machine, calling our service."""

    url: str  # our /qbwc/
    user_name: str
    password: str
    company: QuickBooksCompany
    company_file: str = r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\Demo.QBW"
    # Faults: trips whose answer is lost after QuickBooks applied them (1-based), a trip after
    # which QuickBooks cannot be reached (connectionError), and a session that stops calling.
    lose_answer_of_trips: set[int] = field(default_factory=set)
    connection_error_at_trip: int | None = None
    vanish_after_trip: int | None = None
    max_trips: int = 1000
    timeout: float = 30.0

    def run_session(self) -> SessionReport:
        reply = self.call("authenticate", strUserName=self.user_name, strPassword=self.password)
        ticket = reply[0] if reply else ""
        report = SessionReport(authenticate=reply)
        if len(reply) < 2 or reply[1] in ("nvu", "none", "busy"):
            return report
        for trip in itertools.count(1):
            if trip > self.max_trips:
                break
            request_xml = self.call("sendRequestXML", ticket=ticket, strHCPResponse="",
                                    strCompanyFileName=self.company_file, qbXMLCountry="US",
                                    qbXMLMajorVers="13", qbXMLMinorVers="0")
            if not request_xml:
                report.last_error = self.call("getLastError", ticket=ticket)
                break
            report.trips = trip
            if self.connection_error_at_trip == trip:
                report.closed = self.call("connectionError", ticket=ticket, hresult="0x80040408",
                                          message="Could not start QuickBooks.")
                return report
            response_xml = self.company.process(request_xml)
            if trip in self.lose_answer_of_trips:
                # QuickBooks applied the set; its answer never reaches the service.
                report.lost_trips += 1
                report.last_error = "The connection to the service was lost."
                return report
            if self.vanish_after_trip == trip:
                return report
            percent = int(self.call("receiveResponseXML", ticket=ticket, response=response_xml,
                                    hresult="", message=""))
            report.percents.append(percent)
            if percent < 0:
                report.last_error = self.call("getLastError", ticket=ticket)
                break
            if percent >= 100:
                break
        report.closed = self.call("closeConnection", ticket=ticket)
        return report

    def run_until_idle(self, *, sessions: int = 20, pause: float = 0.0) -> list[SessionReport]:
        """Sessions one after another until the service has nothing to do ("none")."""
        reports = []
        for _ in range(sessions):
            report = self.run_session()
            reports.append(report)
            if len(report.authenticate) > 1 and report.authenticate[1] in ("none", "nvu"):
                break
            time.sleep(pause)
        return reports

    def call(self, operation: str, **params: str) -> Any:
        envelope = Element(f"{{{SOAP_ENV}}}Envelope")
        body = SubElement(envelope, f"{{{SOAP_ENV}}}Body")
        call = SubElement(body, f"{{{TNS}}}{operation}")
        for name, value in params.items():
            SubElement(call, f"{{{TNS}}}{name}").text = value
        response = requests.post(
            self.url, data=b'<?xml version="1.0" encoding="utf-8"?>' + tostring(envelope),
            headers={"Content-Type": CONTENT_TYPE, "SOAPAction": f'"{TNS}{operation}"'},
            timeout=self.timeout)
        root = parse_xml(response.content, max_bytes=MAX_BYTES)
        fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
        if fault is not None:
            raise RuntimeError(f"SOAP fault from the service: {fault.findtext('faultstring')}")
        result = root.find(f"{{{SOAP_ENV}}}Body/{{{TNS}}}{operation}Response/"
                           f"{{{TNS}}}{operation}Result")
        if result is None:
            return None
        if operation == "authenticate":
            return [item.text or "" for item in result.findall(f"{{{TNS}}}string")]
        return result.text or ""
