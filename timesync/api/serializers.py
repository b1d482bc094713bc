"""API shapes. Ids in request bodies resolve only within the caller's organization."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from timesync import api_tokens, selectors, time_rules
from timesync.models import (
    MAX_ID,
    ApprovalState,
    CostCode,
    Membership,
    Project,
    Shift,
    TimeType,
    Worker,
    validate_time_zone,
)


def id_field(**kwargs: Any) -> serializers.IntegerField:
    """An id in a query or a body: an integer a row could have (1 to 2**63 - 1), checked
    before any query sees it."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class WorkDateField(serializers.DateField):
    """A work date within the sane window (`time_rules.outside_work_window`)."""

    def to_internal_value(self, value: Any) -> Any:
        day = super().to_internal_value(value)
        problem = time_rules.outside_work_window(day)
        if problem:
            raise serializers.ValidationError(problem)
        return day


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A related id looked up among what the caller may see; anything else 'does not exist'."""

    def __init__(self, selector: str, **kwargs: Any) -> None:
        self.selector = selector
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        # An id no row can have is refused before the query (the database fails on it).
        number = id_field().run_validation(data)
        return super().to_internal_value(number)

    def get_queryset(self):
        membership: Membership = self.context["membership"]
        if self.selector == "project":
            return selectors.project_list(membership=membership)
        if self.selector == "worker":
            return selectors.worker_list(organization=membership.organization)
        return selectors.cost_code_list(organization=membership.organization)


class OrganizationSerializer(serializers.ModelSerializer):
    slug = serializers.CharField(source="organization.slug")
    name = serializers.CharField(source="organization.name")
    time_zone = serializers.CharField(source="organization.time_zone")

    class Meta:
        model = Membership
        fields = ["slug", "name", "time_zone", "role"]


class ProjectSerializer(serializers.ModelSerializer):
    time_zone = serializers.CharField(
        required=False, allow_blank=True, validators=[validate_time_zone],
        help_text="IANA time zone; blank uses the organization's.",
    )
    effective_time_zone = serializers.CharField(read_only=True)

    class Meta:
        model = Project
        fields = ["id", "name", "code", "time_zone", "effective_time_zone", "is_active",
                  "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class WorkerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Worker
        fields = ["id", "name", "employee_number", "email", "phone", "is_active",
                  "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class CostCodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostCode
        fields = ["id", "code", "name", "is_active", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class WallClockDateTimeField(serializers.DateTimeField):
    """Accepts ISO 8601 with an offset, or a wall-clock time meant in the project's time zone
    (kept naive here, localized once the project is known)."""

    def enforce_timezone(self, value: datetime) -> datetime:
        # Out of the sane window is refused before any time zone arithmetic, which fails near
        # year 1 and year 9999.
        problem = time_rules.outside_work_window(value.date())
        if problem:
            raise serializers.ValidationError(problem)
        return value if value.tzinfo is None else super().enforce_timezone(value)


def localize_wall_clock(
    attrs: dict[str, Any], names: tuple[str, ...], time_zone: str
) -> dict[str, Any]:
    """Read the named wall-clock times in the time zone; a DST-unclear one is a field error."""
    errors = {}
    for name in names:
        value = attrs.get(name)
        if value is not None and value.tzinfo is None:
            try:
                attrs[name] = time_rules.localize(value, time_zone)
            except time_rules.LocalTimeError as error:
                errors[name] = [str(error)]
    if errors:
        raise serializers.ValidationError(errors)
    return attrs


class ShiftSerializer(serializers.ModelSerializer):
    worker = ScopedPrimaryKeyField("worker")
    project = ScopedPrimaryKeyField("project")
    cost_code = ScopedPrimaryKeyField("cost_code", required=False, allow_null=True)
    worker_name = serializers.CharField(source="worker.name", read_only=True)
    project_name = serializers.CharField(source="project.name", read_only=True)
    cost_code_label = serializers.StringRelatedField(source="cost_code", read_only=True,
                                                     allow_null=True)
    start = WallClockDateTimeField(
        help_text="ISO 8601; without an offset it is read in the project's time zone."
    )
    end = WallClockDateTimeField(
        required=False, allow_null=True,
        help_text="ISO 8601; null while the worker is punched in.",
    )
    break_minutes = serializers.IntegerField(min_value=0, max_value=24 * 60, required=False)
    paid_hours = serializers.DecimalField(
        max_digits=6, decimal_places=2, read_only=True, allow_null=True
    )
    decided_by = serializers.StringRelatedField(read_only=True, allow_null=True)
    version = serializers.IntegerField(
        required=False, min_value=1,
        help_text="On update: the version you read. A stale one answers 409 instead of "
                  "overwriting someone else's change.",
    )

    class Meta:
        model = Shift
        fields = [
            "id", "worker", "worker_name", "project", "project_name", "cost_code",
            "cost_code_label", "start", "end", "break_minutes", "time_type", "notes",
            "classification", "work_date", "paid_hours", "approval_state", "decided_by",
            "decided_at", "rejection_reason", "version", "created_at", "updated_at",
        ]
        read_only_fields = [
            "classification", "work_date", "approval_state", "decided_at", "rejection_reason",
            "created_at", "updated_at",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        project = attrs.get("project") or getattr(self.instance, "project", None)
        return localize_wall_clock(attrs, ("start", "end"), project.effective_time_zone)


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    version = serializers.IntegerField(required=False, min_value=1)


class BulkDecisionSerializer(serializers.Serializer):
    shift_ids = serializers.ListField(child=id_field(), min_length=1, max_length=1000)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class PunchInSerializer(serializers.Serializer):
    worker = ScopedPrimaryKeyField("worker")
    project = ScopedPrimaryKeyField("project")
    cost_code = ScopedPrimaryKeyField("cost_code", required=False, allow_null=True)
    time_type = serializers.ChoiceField(choices=TimeType.choices, default=TimeType.REGULAR)
    at = WallClockDateTimeField(
        required=False, help_text="When the worker punched in (ISO 8601; without an offset it is "
                                  "read in the project's time zone); defaults to now. Devices "
                                  "that queue punches offline send it."
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return localize_wall_clock(attrs, ("at",), attrs["project"].effective_time_zone)


class PunchOutSerializer(serializers.Serializer):
    worker = ScopedPrimaryKeyField("worker")
    at = WallClockDateTimeField(
        required=False, help_text="When the worker punched out (ISO 8601; without an offset it "
                                  "is read in the time zone of the project punched in to); "
                                  "defaults to now."
    )
    break_minutes = serializers.IntegerField(min_value=0, max_value=24 * 60, default=0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        open_shift = selectors.open_shift_of(worker=attrs["worker"])
        zone = (
            open_shift.project.effective_time_zone if open_shift
            else self.context["membership"].organization.time_zone
        )
        return localize_wall_clock(attrs, ("at",), zone)


class ShiftFilterSerializer(serializers.Serializer):
    project = id_field(required=False)
    worker = id_field(required=False)
    work_date = WorkDateField(required=False)
    date_from = WorkDateField(required=False)
    date_to = WorkDateField(required=False)
    approval_state = serializers.ChoiceField(choices=ApprovalState.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs.get("date_from"), attrs.get("date_to")
        if first and last and first > last:
            raise serializers.ValidationError({"date_to": "Must be on or after date_from."})
        return attrs


class ListFilterSerializer(serializers.Serializer):
    """The filters of projects, workers and cost codes. CharField refuses NUL characters
    (PostgreSQL cannot compare with them)."""

    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    search = serializers.CharField(required=False, allow_blank=True, max_length=200)


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    before = serializers.CharField()
    after = serializers.CharField()


class ShiftChangeSerializer(serializers.Serializer):
    when = serializers.DateTimeField()
    who = serializers.CharField()
    kind = serializers.CharField()
    version = serializers.IntegerField()
    changes = FieldChangeSerializer(many=True)


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = authenticate(
            request=self.context.get("request"), email=attrs["email"].lower(),
            password=attrs["password"],
        )
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": ["Email or password is wrong, or the account is inactive."]}
            )
        attrs["user"] = user
        return attrs


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`. Shown once.")
    id = serializers.CharField(help_text="The token's public id (its first characters).")
    expiry = serializers.DateTimeField(
        help_text="When it stops working unless used before: each use moves it forward."
    )


class ApiTokenSerializer(serializers.Serializer):
    """One of the caller's tokens, never the token itself."""

    id = serializers.CharField(source="token_key",
                               help_text="Public id: DELETE /api/v1/auth/tokens/{id}/ revokes it.")
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)
    last_used = serializers.SerializerMethodField(
        help_text="When it last opened a request, to the minute (its creation until then)."
    )
    current = serializers.SerializerMethodField(help_text="The token of this very request.")

    def get_last_used(self, token: Any) -> datetime | None:
        return api_tokens.api_token_last_used(token)

    def get_current(self, token: Any) -> bool:
        request = self.context.get("request")
        return getattr(getattr(request, "auth", None), "digest", None) == token.digest

