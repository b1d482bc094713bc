"""API views: parse, call a selector or a service, render. No business rules here."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from timesync import roles, selectors, services
from timesync.api import serializers as s
from timesync.models import MAX_ID, CostCode, Membership, Project, Role, Shift, Worker

ORGANIZATION_SLUG = OpenApiParameter(
    "organization_slug", OpenApiTypes.STR, OpenApiParameter.PATH,
    description="The organization's slug (see GET /api/v1/organizations/).",
)


class OrganizationScopedMixin:
    """Resolves the caller's membership from the URL before anything else: not a member (or
    inactive) is a 404, so another organization's existence does not leak."""

    membership: Membership

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication first
        self.membership = selectors.membership_for_slug(
            user=request.user, organization_slug=kwargs["organization_slug"]
        )
        # A role that may not write here is told so first: before its input is read, before a
        # version is compared, before any id in it is looked up. The services check again.
        if request.method not in SAFE_METHODS and not self.may_write(self.membership):
            raise PermissionDenied(self.write_refused)

    write_refused = "Your role can see this but not change it."

    def may_write(self, membership: Membership) -> bool:
        """Whether the role may write through this view at all (the services decide the rest,
        e.g. a project manager's own projects)."""
        return membership.role != Role.VIEWER

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "membership"):
            context["membership"] = self.membership
        return context

    def _fake(self) -> bool:
        # drf-spectacular builds the schema without a request user or organization.
        return getattr(self, "swagger_fake_view", False)


class ReferenceDataViewSet(
    OrganizationScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Projects, workers and cost codes share this shape. There is no delete: history and
    shifts point at them; set is_active=false instead."""

    model: type[Model]
    search_fields: tuple[str, ...] = ()
    write_refused = "Only admins and payroll admins change projects, workers and cost codes."

    def may_write(self, membership: Membership) -> bool:
        return roles.can_edit_reference_data(membership)

    def scoped(self) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        if self._fake():
            return self.model.objects.none()
        queryset = self.scoped()
        if self.action != "list":
            return queryset
        filters = s.ListFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)  # e.g. a NUL in search, which no column holds
        active = filters.validated_data.get("active")
        if active is not None:
            queryset = queryset.filter(is_active=active)
        term = filters.validated_data.get("search", "").strip()
        if term:
            condition = Q()
            for field in self.search_fields:
                condition |= Q(**{f"{field}__icontains": term})
            queryset = queryset.filter(condition)
        return queryset

    def perform_create(self, serializer: s.serializers.Serializer) -> None:
        serializer.instance = self.create_service(
            actor=self.membership, **serializer.validated_data
        )

    def perform_update(self, serializer: s.serializers.Serializer) -> None:
        serializer.instance = self.update_service(
            serializer.instance, actor=self.membership, **serializer.validated_data
        )


LIST_FILTERS = [
    ORGANIZATION_SLUG,
    OpenApiParameter("active", OpenApiTypes.BOOL, description="Only active (true) or inactive."),
    OpenApiParameter("search", OpenApiTypes.STR, description="Part of a name, code or number."),
]


@extend_schema_view(list=extend_schema(parameters=LIST_FILTERS))
@extend_schema(parameters=[ORGANIZATION_SLUG], tags=["projects"])
class ProjectViewSet(ReferenceDataViewSet):
    model = Project
    serializer_class = s.ProjectSerializer
    lookup_url_kwarg = "project_id"
    search_fields = ("name", "code")

    def scoped(self) -> QuerySet:
        return selectors.project_list(membership=self.membership)

    def create_service(self, **kwargs: Any) -> Project:
        return services.project_create(**kwargs)

    def update_service(self, project: Project, **kwargs: Any) -> Project:
        return services.project_update(project=project, **kwargs)


@extend_schema_view(list=extend_schema(parameters=LIST_FILTERS))
@extend_schema(parameters=[ORGANIZATION_SLUG], tags=["workers"])
class WorkerViewSet(ReferenceDataViewSet):
    model = Worker
    serializer_class = s.WorkerSerializer
    lookup_url_kwarg = "worker_id"
    search_fields = ("name", "employee_number", "email")

    def scoped(self) -> QuerySet:
        return selectors.worker_list(organization=self.membership.organization)

    def create_service(self, **kwargs: Any) -> Worker:
        return services.worker_create(**kwargs)

    def update_service(self, worker: Worker, **kwargs: Any) -> Worker:
        return services.worker_update(worker=worker, **kwargs)


@extend_schema_view(list=extend_schema(parameters=LIST_FILTERS))
@extend_schema(parameters=[ORGANIZATION_SLUG], tags=["cost codes"])
class CostCodeViewSet(ReferenceDataViewSet):
    model = CostCode
    serializer_class = s.CostCodeSerializer
    lookup_url_kwarg = "cost_code_id"
    search_fields = ("code", "name")

    def scoped(self) -> QuerySet:
        return selectors.cost_code_list(organization=self.membership.organization)

    def create_service(self, **kwargs: Any) -> CostCode:
        return services.cost_code_create(**kwargs)

    def update_service(self, cost_code: CostCode, **kwargs: Any) -> CostCode:
        return services.cost_code_update(cost_code=cost_code, **kwargs)


ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}

SHIFT_FILTERS = [
    ORGANIZATION_SLUG,
    OpenApiParameter("project", ID_SCHEMA),
    OpenApiParameter("worker", ID_SCHEMA),
    OpenApiParameter("work_date", OpenApiTypes.DATE),
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="First work date, inclusive."),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="Last work date, inclusive."),
    OpenApiParameter("approval_state", OpenApiTypes.STR, enum=["pending", "approved", "rejected"]),
]


@extend_schema_view(
    list=extend_schema(parameters=SHIFT_FILTERS),
    destroy=extend_schema(description="Deletes the shift (kept in history; a later sync removes "
                                      "it from the remote systems)."),
)
@extend_schema(parameters=[ORGANIZATION_SLUG], tags=["shifts"])
class ShiftViewSet(OrganizationScopedMixin, viewsets.ModelViewSet):
    serializer_class = s.ShiftSerializer
    lookup_url_kwarg = "shift_id"

    def get_queryset(self) -> QuerySet[Shift]:
        if self._fake():
            return Shift.objects.none()
        if self.action != "list":
            return selectors.shift_list(membership=self.membership)
        filters = s.ShiftFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        query = dict(filters.validated_data)
        for name in ("project", "worker"):
            if name in query:
                query[f"{name}_id"] = query.pop(name)
        return selectors.shift_list(membership=self.membership, **query)

    def perform_create(self, serializer: s.ShiftSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("version", None)
        serializer.instance = services.shift_create(actor=self.membership, **data)

    def perform_update(self, serializer: s.ShiftSerializer) -> None:
        data = dict(serializer.validated_data)
        version = data.pop("version", None)
        serializer.instance = services.shift_update(
            actor=self.membership, shift=serializer.instance, expected_version=version, **data
        )

    def perform_destroy(self, instance: Shift) -> None:
        services.shift_delete(actor=self.membership, shift=instance)

    def _decide(self, request: Request, approve: bool) -> Response:
        body = s.DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        shift = services.shift_decide(
            actor=self.membership, shift=self.get_object(), approve=approve,
            reason=body.validated_data["reason"],
            expected_version=body.validated_data.get("version"),
        )
        return Response(s.ShiftSerializer(shift, context=self.get_serializer_context()).data)

    @extend_schema(request=s.DecisionSerializer, responses=s.ShiftSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._decide(request, approve=True)

    @extend_schema(request=s.DecisionSerializer, responses=s.ShiftSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._decide(request, approve=False)

    def _bulk_decide(self, request: Request, approve: bool) -> Response:
        body = s.BulkDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = set(body.validated_data["shift_ids"])
        shifts = list(selectors.shift_list(membership=self.membership).filter(pk__in=ids))
        missing = ids - {shift.pk for shift in shifts}
        if missing:
            raise ValidationError(
                {"shift_ids": [f"No such shift: {', '.join(map(str, sorted(missing)))}."]})
        decided = services.shifts_decide(
            actor=self.membership, shifts=shifts, approve=approve,
            reason=body.validated_data["reason"],
        )
        context = self.get_serializer_context()
        return Response(s.ShiftSerializer(decided, many=True, context=context).data)

    @extend_schema(request=s.BulkDecisionSerializer, responses=s.ShiftSerializer(many=True),
                   description="Approve many shifts at once: all or none.")
    @action(detail=False, methods=["post"], url_path="bulk-approve", pagination_class=None)
    def bulk_approve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._bulk_decide(request, approve=True)

    @extend_schema(request=s.BulkDecisionSerializer, responses=s.ShiftSerializer(many=True),
                   description="Reject many shifts at once: all or none.")
    @action(detail=False, methods=["post"], url_path="bulk-reject", pagination_class=None)
    def bulk_reject(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._bulk_decide(request, approve=False)

    @extend_schema(responses=s.ShiftChangeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def history(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        changes = selectors.shift_history(shift=self.get_object())
        return Response(s.ShiftChangeSerializer(changes, many=True).data)

    @extend_schema(request=s.PunchInSerializer, responses={201: s.ShiftSerializer},
                   description="Clock a worker in from a field device: opens a shift.")
    @action(detail=False, methods=["post"], url_path="punch-in")
    def punch_in(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = s.PunchInSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        shift = services.punch_in(actor=self.membership, **body.validated_data)
        return Response(
            s.ShiftSerializer(shift, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=s.PunchOutSerializer, responses=s.ShiftSerializer,
                   description="Clock a worker out: closes their open shift.")
    @action(detail=False, methods=["post"], url_path="punch-out")
    def punch_out(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = s.PunchOutSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        shift = services.punch_out(actor=self.membership, **body.validated_data)
        return Response(s.ShiftSerializer(shift, context=self.get_serializer_context()).data)


@extend_schema(tags=["organizations"])
class OrganizationListView(generics.ListAPIView):
    """The organizations the caller belongs to, with their role in each."""

    serializer_class = s.OrganizationSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return selectors.memberships_for_user(user=self.request.user)
