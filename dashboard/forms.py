from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth.password_validation import validate_password

from timesync.models import Role

COMMON_TIME_ZONES = [
    "America/St_Johns", "America/Halifax", "America/Toronto", "America/New_York",
    "America/Chicago", "America/Winnipeg", "America/Regina", "America/Denver",
    "America/Edmonton", "America/Phoenix", "America/Los_Angeles", "America/Vancouver",
    "America/Anchorage", "Pacific/Honolulu", "Europe/London", "Australia/Sydney",
]


def time_zone_choices() -> list[tuple[str, str]]:
    others = sorted(zoneinfo.available_timezones() - set(COMMON_TIME_ZONES))
    return [(tz, tz) for tz in COMMON_TIME_ZONES] + [(tz, tz) for tz in others]


class SignUpForm(forms.Form):
    organization_name = forms.CharField(label="Company name", max_length=200)
    time_zone = forms.ChoiceField(choices=time_zone_choices, initial="America/Toronto")
    full_name = forms.CharField(label="Your name", max_length=150)
    email = forms.EmailField(label="Work email")
    password = forms.CharField(widget=forms.PasswordInput, strip=False)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        validate_password(password)
        return password


class NewOrganizationForm(forms.Form):
    name = forms.CharField(label="Company name", max_length=200)
    time_zone = forms.ChoiceField(choices=time_zone_choices, initial="America/Toronto")


class OrganizationSettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        help_text="Work dates of projects without their own time zone follow this one.",
    )


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    assigned_projects = forms.ModelMultipleChoiceField(
        queryset=None, required=False,
        help_text="Project managers see and work on these projects only.",
    )

    def __init__(self, *args, projects=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assigned_projects"].queryset = projects


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(label="Your name", max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, strip=False)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        validate_password(password)
        return password


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(required=False, max_length=500)


# --- Project pages: decisions, shift editing, the Sync Only Approved Shifts switch ---------


class ReasonedDecisionForm(DecisionForm):
    """Approve or reject; a rejection says why (the crew and payroll read it on the shift)."""

    def clean(self) -> dict:
        data = super().clean()
        if data.get("decision") == "reject" and not data.get("reason", "").strip():
            self.add_error("reason", "Say why the shift is rejected: the crew and payroll "
                                     "read the reason.")
        return data


class ShiftsDecisionForm(ReasonedDecisionForm):
    """Approve or reject the selected shifts of a project: all of them, or none."""

    shift = forms.ModelMultipleChoiceField(
        queryset=None,
        error_messages={
            "required": "Select at least one shift first.",
            "invalid_choice": "Shift #%(value)s is not one you can approve or reject here; "
                              "nothing was changed.",
            "invalid_pk_value": "“%(pk)s” is not a shift; nothing was changed.",
        },
    )

    def __init__(self, *args, shifts=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shift"].queryset = shifts


class ApprovedOnlyForm(forms.Form):
    sync_only_approved = forms.TypedChoiceField(
        choices=[("true", "On"), ("false", "Off")], coerce=lambda value: value == "true"
    )


class LocalDateTimeField(forms.DateTimeField):
    """A wall-clock time at the project (an HTML datetime-local input), made aware in the
    project's time zone by `time_rules.localize`: a time a DST change makes missing or
    ambiguous is refused on the field, never guessed."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "60"},
                                 format="%Y-%m-%dT%H:%M")
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.time_zone = "UTC"
        self.unchanged: object = None  # the aware value shown, kept when sent back as is

    def to_python(self, value):
        from datetime import datetime as _datetime

        from timesync import time_rules

        if value in self.empty_values:
            return None
        if isinstance(value, _datetime):
            if value.tzinfo is not None:
                return value
            naive = value
        else:
            naive = None
            for pattern in self.input_formats:
                try:
                    naive = _datetime.strptime(str(value).strip(), pattern)
                    break
                except ValueError:
                    continue
            if naive is None:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        unchanged = self.unchanged
        if unchanged is not None and naive == unchanged.astimezone(
                zoneinfo.ZoneInfo(self.time_zone)).replace(tzinfo=None, second=0, microsecond=0):
            # Sent back as shown (to the minute): the time stays exactly what it was, seconds
            # of a punch and a time in a DST change's hour included.
            return unchanged
        try:
            return time_rules.localize(naive, self.time_zone)
        except time_rules.LocalTimeError as error:
            reason = str(error).split("; give the time")[0]
            raise forms.ValidationError(
                "%(reason)s. Enter a time outside the hour the clocks changed.",
                params={"reason": reason}, code="unclear_local_time",
            ) from error


def _time_type_choices() -> list[tuple[str, str]]:
    from timesync.models import TimeType

    return TimeType.choices


class ShiftEditForm(forms.Form):
    """A shift's times (wall clock at the project), break, cost code, type and notes, with the
    version read so that a concurrent change is not overwritten."""

    start = LocalDateTimeField(label="Start")
    end = LocalDateTimeField(label="End", required=False)
    break_minutes = forms.IntegerField(label="Unpaid break (minutes)", min_value=0,
                                       max_value=24 * 60)
    cost_code = forms.ModelChoiceField(queryset=None, required=False, empty_label="— None —")
    time_type = forms.ChoiceField(label="Time type", choices=_time_type_choices)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                            max_length=2000)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, shift, cost_codes, **kwargs) -> None:
        zone = zoneinfo.ZoneInfo(shift.project.effective_time_zone)
        kwargs.setdefault("initial", {
            "start": shift.start.astimezone(zone).replace(tzinfo=None),
            "end": shift.end.astimezone(zone).replace(tzinfo=None) if shift.end else None,
            "break_minutes": shift.break_minutes,
            "cost_code": shift.cost_code_id,
            "time_type": shift.time_type,
            "notes": shift.notes,
            "version": shift.version,
        })
        super().__init__(*args, **kwargs)
        self.shift = shift
        for name in ("start", "end"):
            self.fields[name].time_zone = shift.project.effective_time_zone
            self.fields[name].unchanged = getattr(shift, name)
        self.fields["cost_code"].queryset = cost_codes
        self.fields["start"].help_text = f"Wall-clock time at the project ({zone.key})."
        self.fields["end"].help_text = "An overnight shift ends on the next day's date."
        if shift.end is None:
            self.fields["end"].help_text += " Leave empty while the worker is still on site."
        else:
            # A finished shift keeps an end: emptying it would put the worker back on site.
            self.fields["end"].required = True

    def clean_notes(self) -> str:
        # Browsers send a textarea's line breaks as CRLF: the same notes must not read as edited.
        return self.cleaned_data["notes"].replace("\r\n", "\n")
