"""What connecting asks Procore, once a token is in hand: is the company visible to our app, and
may the app read it? Each failure says exactly what to fix in Procore (wire only: this package
never imports our domain)."""

from __future__ import annotations

from typing import Any

from connectors.addresses import PUBLIC_HTTPS_ONLY, RemoteAddressPolicy
from connectors.base import HttpClient, PermanentError, RemoteNotFound, remote_message
from connectors.procore.client import USER_AGENT

SYSTEM = "Procore"


class ConnectRefused(PermanentError):
    """Procore gave us a token, but the connection cannot work yet; `reason` is a code
    (company_not_found, app_not_installed, permission_missing, token_refused) and str() says
    what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def company_check(*, api_base_url: str, access_token: str, company_id: str,
                  policy: RemoteAddressPolicy = PUBLIC_HTTPS_ONLY) -> str:
    """The company's name when the app sees the company and may read its directory; else
    ConnectRefused saying which of those failed. Network faults raise TransientError."""
    http = HttpClient(base_url=api_base_url, system=SYSTEM, policy=policy,
                      headers={"Authorization": f"Bearer {access_token}",
                               "User-Agent": USER_AGENT})
    try:
        companies = _get(http, "/rest/v1.0/companies", {})
        if not isinstance(companies, list) or not companies:
            raise ConnectRefused(
                "app_not_installed",
                "The app is not installed in any Procore company: a company admin installs it "
                "from Procore's App Management (for client credentials, as a Developer "
                "Managed Service Account) and gives it access to the projects.")
        names = {str(c.get("id")): str(c.get("name") or "") for c in companies
                 if isinstance(c, dict)}
        if str(company_id) not in names:
            seen = ", ".join(f"{name} ({cid})" for cid, name in list(names.items())[:5])
            raise ConnectRefused(
                "company_not_found",
                f"Procore company {company_id} was not found among the companies the app can "
                f"see ({seen}): check the company ID, or install the app in that company.")
        _get(http, f"/rest/v1.0/companies/{company_id}/people", {"per_page": 1},
             company_id=str(company_id))
        return names[str(company_id)]
    finally:
        http.close()


def _get(http: HttpClient, path: str, params: dict[str, Any], *, company_id: str = "") -> Any:
    headers = {"Procore-Company-Id": company_id} if company_id else {}
    http.session.headers.update(headers)
    response = http.send("GET", path, params=params)
    if response.status_code == 401:
        raise ConnectRefused("token_refused",
                             "Procore refused the token it had just issued: try connecting "
                             "again; if it repeats, check the app's credentials.")
    if response.status_code == 403:
        raise ConnectRefused(
            "permission_missing",
            f"Procore refused the app access to the company (403: {remote_message(response)}): "
            "the app is not installed in the company's App Management, or may not read the "
            "company directory. Install it there with read access to the Directory and "
            "Timecard tools, then connect again.")
    try:
        return http.outcome(response, "GET", path)
    except RemoteNotFound as error:
        raise ConnectRefused(
            "company_not_found",
            f"Procore answered that {path} does not exist: check the API address and the "
            "company ID.") from error
