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
