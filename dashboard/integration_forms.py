"""Forms of the integration pages: connect, settings, mappings and the logs' filters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import URLValidator
from django.db.models import QuerySet

from timesync.models import (
    HoursRounding,
    Integration,
    IntegrationKind,
    MatchField,
    Project,
    SyncState,
)
from timesync.sync.services import CONNECTABLE_KINDS, IntegrationChanges

WORKER_RULES = [
    (MatchField.EMPLOYEE_NUMBER.value, "Employee number"),
    (MatchField.EMAIL.value, "Email"),
    (MatchField.NAME.value, "Exact name"),
]


# Systems this form connects (an address and an API key); Procore has a page of its own (an app's
# client ID and secret, then Procore's own sign-in).
ADDRESS_AND_KEY_KINDS = frozenset({IntegrationKind.PLEXXIS})


class KindSelect(forms.RadioSelect):
    """Radio buttons whose systems not yet available are disabled and say so."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if value not in ADDRESS_AND_KEY_KINDS:
            option["attrs"]["disabled"] = True
            option["label"] = (f"{label} (use Connect to Procore below)"
                               if value in CONNECTABLE_KINDS else f"{label} (coming soon)")
        return option


def _base_url_field() -> forms.URLField:
    return forms.URLField(
        label="Plexxis API address", max_length=300, assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="The address of your Plexxis API, usually ending in /api/v1 "
                  "(for example https://plexxis.example.com/api/v1).",
    )


def _api_key_widget() -> forms.PasswordInput:
    # Never rendered back, and never filled in by the browser's password manager.
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password",
                                                          "spellcheck": "false"})


class _UniqueNameMixin:
    """The name is unique in the organization (the database says so too; this says it
    kindly, next to the field)."""

    def __init__(self, *args: Any, integrations: QuerySet[Integration], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._integrations = integrations

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if self._integrations.filter(name=name).exists():
            raise forms.ValidationError(f"An integration named {name} exists already.")
        return name


class ConnectForm(_UniqueNameMixin, forms.Form):
    kind = forms.ChoiceField(label="System", choices=IntegrationKind.choices,
                             initial=IntegrationKind.PLEXXIS, widget=KindSelect)
    name = forms.CharField(max_length=100, initial="Plexxis",
                           help_text='Shown in menus and logs, e.g. "Plexxis V2".')
    base_url = _base_url_field()
    api_key = forms.CharField(
        label="API key", max_length=500, widget=_api_key_widget(),
        help_text="Stored encrypted; never shown again.",
    )

    def clean_kind(self) -> str:
        kind = self.cleaned_data["kind"]
        if kind == IntegrationKind.PROCORE:
            raise forms.ValidationError("Procore connects with its app's client ID and secret: "
                                        "use Connect to Procore.")
        if kind not in CONNECTABLE_KINDS:
            raise forms.ValidationError(
                f"{IntegrationKind(kind).label} is coming soon; Plexxis and Procore connect "
                "today."
            )
        return kind

    def clean_base_url(self) -> str:
        return self.cleaned_data["base_url"].rstrip("/")


def _procore_address(label: str, default: str, help_text: str) -> forms.URLField:
    return forms.URLField(label=label, max_length=300, initial=default, assume_scheme="https",
                          validators=[URLValidator(schemes=["http", "https"])],
                          help_text=help_text)


class ProcoreConnectForm(_UniqueNameMixin, forms.Form):
    """Connect to Procore: the app's credentials (Procore's Developer Portal), the company,
    and how the app is allowed in (an admin's approval, or a service account)."""

    name = forms.CharField(max_length=100, initial="Procore",
                           help_text='Shown in menus and logs, e.g. "Procore".')
    company_id = forms.IntegerField(label="Procore company ID", min_value=1, max_value=2**63 - 1,
                                    help_text="Shown in Procore's Company Settings.")
    grant = forms.ChoiceField(
        label="How the app connects", widget=forms.RadioSelect, initial="authorization_code",
        choices=[("authorization_code", "An admin signs in to Procore and allows the app"),
                 ("client_credentials", "A Developer Managed Service Account (client ID and "
                                        "secret alone)")])
    client_id = forms.CharField(label="Client ID", max_length=200)
    client_secret = forms.CharField(label="Client secret", max_length=500,
                                    widget=_api_key_widget(),
                                    help_text="Stored encrypted; never shown again.")
    api_base_url = _procore_address("Procore API address", "https://api.procore.com",
                                    "The sandbox's is https://sandbox.procore.com.")
    login_base_url = _procore_address("Procore sign-in address", "https://login.procore.com",
                                      "The sandbox's is https://login-sandbox.procore.com.")

    def settings(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"api_base_url": data["api_base_url"].rstrip("/"),
                "login_base_url": data["login_base_url"].rstrip("/"),
                "company_id": data["company_id"], "grant": data["grant"]}

    def credentials(self) -> dict[str, str]:
        return {"client_id": self.cleaned_data["client_id"],
                "client_secret": self.cleaned_data["client_secret"]}


class IntegrationSettingsForm(_UniqueNameMixin, forms.Form):
    name = forms.CharField(max_length=100, help_text='Shown in menus and logs, e.g. "Plexxis V2".')
    base_url = _base_url_field()
    api_key = forms.CharField(label="API key", max_length=500, required=False,
                              widget=_api_key_widget())
    match_first = forms.ChoiceField(label="First by", choices=WORKER_RULES)
    match_second = forms.ChoiceField(label="Then by", required=False,
                                     choices=[("", "— nothing else —"), *WORKER_RULES])
    match_third = forms.ChoiceField(label="Finally by", required=False,
                                    choices=[("", "— nothing else —"), *WORKER_RULES])
    hours_rounding = forms.ChoiceField(label="Hours sent", choices=HoursRounding.choices)
    schedule_enabled = forms.BooleanField(label="Sync every night", required=False)
    schedule_time = forms.TimeField(
        label="At", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    schedule_days_back = forms.IntegerField(
        label="Day to send (days back)", min_value=0, max_value=31,
        help_text="1 sends yesterday; 0 sends the same day (for a late-evening schedule).",
    )

    GROUPS = (
        ("Connection", ("name", "base_url", "api_key")),
        ("Worker matching", ("match_first", "match_second", "match_third")),
        ("Hours", ("hours_rounding",)),
        ("Nightly schedule", ("schedule_enabled", "schedule_time", "schedule_days_back")),
    )

    def __init__(self, *args: Any, integration: Integration, time_zone: str,
                 **kwargs: Any) -> None:
        rules = [*integration.worker_matching, "", "", ""]
        kwargs.setdefault("initial", {
            "name": integration.name,
            "base_url": (integration.settings or {}).get("base_url", ""),
            "match_first": rules[0], "match_second": rules[1], "match_third": rules[2],
            "hours_rounding": integration.hours_rounding,
            "schedule_enabled": integration.schedule_enabled,
            "schedule_time": integration.schedule_time,
            "schedule_days_back": integration.schedule_days_back,
        })
        super().__init__(*args, integrations=integration.organization.integrations.exclude(
            pk=integration.pk), **kwargs)
        self.integration = integration
        self.fields["api_key"].help_text = (
            "An API key is stored. Leave this blank to keep it; a new key is tested before "
            "it is saved." if integration.credentials_encrypted
            else "No API key is stored. Enter one to connect; it is tested before it is saved."
        )
        self.fields["schedule_time"].help_text = (
            f"Local time in {time_zone}, the organization's time zone."
        )
        # Procore connects through its own sign-in (Connect to Procore), not an address and key.
        self.by_address_and_key = integration.kind in ADDRESS_AND_KEY_KINDS
        if not self.by_address_and_key:
            del self.fields["base_url"], self.fields["api_key"]

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(legend, [self[name] for name in names if name in self.fields])
                for legend, names in self.GROUPS]

    def clean_base_url(self) -> str:
        return self.cleaned_data["base_url"].rstrip("/")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        seen = set()
        for name in ("match_first", "match_second", "match_third"):
            rule = data.get(name)
            if not rule:
                continue
            if rule in seen:
                self.add_error(name, "Each rule can be used once.")
            seen.add(rule)
        return data

    def changes(self) -> IntegrationChanges:
        """What `integration_reconfigure` takes."""
        data = self.cleaned_data
        rules = [data[name] for name in ("match_first", "match_second", "match_third")
                 if data.get(name)]
        by_key = self.by_address_and_key
        return IntegrationChanges(
            name=data["name"],
            settings=({**(self.integration.settings or {}), "base_url": data["base_url"]}
                      if by_key else None),
            credentials={"api_key": data["api_key"]} if by_key and data.get("api_key") else None,
            worker_matching=rules,
            hours_rounding=data["hours_rounding"],
            schedule_enabled=data["schedule_enabled"],
            schedule_time=data["schedule_time"],
            schedule_days_back=data["schedule_days_back"],
        )


class MappingForm(forms.Form):
    """One fix on the mappings page: link (or unlink) one worker, project or cost code."""

    KINDS = ("worker", "project", "cost_code")

    kind = forms.ChoiceField(choices=[(kind, kind) for kind in KINDS])
    item = forms.IntegerField(min_value=1)
    action = forms.ChoiceField(choices=[("link", "Link"), ("unlink", "Remove")],
                               initial="link")
    remote_id = forms.CharField(max_length=100, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "link" and not data.get("remote_id"):
            self.add_error("remote_id", "Choose what to link it to.")
        if data.get("action") == "unlink" and data.get("kind") == "project":
            self.add_error("action", "A project link is changed on the project, not removed.")
        return data


class SyncLogFilterForm(forms.Form):
    """The logs' filters, read from the query string; a field that does not parse is shown
    with its error and not applied."""

    project = forms.ModelChoiceField(queryset=Project.objects.none(), required=False,
                                     empty_label="All projects")
    date_from = forms.DateField(label="Timesheet Date from", required=False,
                                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    date_to = forms.DateField(label="Timesheet Date to", required=False,
                              widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    state = forms.ChoiceField(label="Outcome", required=False,
                              choices=[("", "Any outcome"), *SyncState.choices])

    def __init__(self, *args: Any, projects: QuerySet[Project], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects.order_by("code", "name")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> dict[str, Any]:
        """The keyword arguments of `run_list` for the fields that parsed."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = self.cleaned_data
        filters = {
            "project_id": data["project"].pk if data.get("project") else None,
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            "state": data.get("state") or None,
        }
        return {name: value for name, value in filters.items() if value is not None}
