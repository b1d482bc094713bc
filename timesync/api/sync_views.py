"""API of integrations and timecard syncs: thin views over timesync.sync."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from connectors.base import PermanentError
from timesync import roles
from timesync.api import sync_serializers as s
from timesync.api.views import ID_SCHEMA, ORGANIZATION_SLUG, OrganizationScopedMixin
from timesync.models import (
    InboundEvent,
    InboundState,
    Integration,
    Membership,
    ProjectLink,
    SyncLogEntry,
    SyncRun,
    SyncTrigger,
    WorkerLink,
)
from timesync.sync import cells as grid_cells
from timesync.sync import (
    csvlog,
    procore,
    procore_receive,
    reference_import,
    runs,
    selectors,
    services,
)

INTEGRATION_ID = OpenApiParameter("integration_id", OpenApiTypes.INT, OpenApiParameter.PATH)


class CSVRenderer(BaseRenderer):
    """Lets a client ask for text/csv; the view streams the body itself."""

    media_type = "text/csv"
    format = "csv"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: dict | None = None) -> bytes:
        return data if isinstance(data, bytes) else str(data or "").encode()


@extend_schema(parameters=[ORGANIZATION_SLUG], tags=["integrations"])
class IntegrationViewSet(
    OrganizationScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
    mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet,
):
    serializer_class = s.IntegrationSerializer
    lookup_url_kwarg = "integration_id"
    write_refused = "Only admins manage integrations."

    def may_write(self, membership: Membership) -> bool:
        return roles.can_manage_integrations(membership)

    def get_queryset(self) -> QuerySet[Integration]:
        if self._fake():
            return Integration.objects.none()
        return selectors.integration_list(membership=self.membership)

    def get_object(self) -> Integration:
        return selectors.access_integration(self.membership, self.kwargs["integration_id"])

    @extend_schema(description="Connect a remote system: its address and credentials are tested "
                               "first (502 refused, 503 unreachable: nothing is created), then "
                               "its workers, projects and cost codes are fetched in the "
                               "background and matched. Procore (settings api_base_url, "
                               "login_base_url, company_id, grant; credentials client_id, "
                               "client_secret): client_credentials connects at once (a token, "
                               "then the company checked: 502 says whether the company was not "
                               "found, the app is not installed or a permission is missing); "
                               "authorization_code creates it not yet connected, with "
                               "`authorize_url`, the page to send the admin to.")
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer: s.IntegrationSerializer) -> None:
        data = dict(serializer.validated_data)
        integration = services.integration_connect(
            actor=self.membership, kind=data.pop("kind"), name=data.pop("name"),
            settings=data.pop("settings", {}), credentials=data.pop("credentials"),
        )
        if data:
            integration = services.integration_reconfigure(
                actor=self.membership, integration=integration,
                changes=services.IntegrationChanges(**data),
            )
        serializer.instance = integration

    def perform_update(self, serializer: s.IntegrationSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("kind", None)  # the serializer refuses a change of kind
        serializer.instance = services.integration_reconfigure(
            actor=self.membership, integration=serializer.instance,
            changes=services.IntegrationChanges(**data),
        )

    @extend_schema(request=None, responses=s.IntegrationSerializer,
                   description="Remove every link and the stored credentials; logs stay.")
    @action(detail=True, methods=["post"])
    def disconnect(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        integration = services.integration_disconnect(
            actor=self.membership, integration=self.get_object()
        )
        return Response(s.IntegrationSerializer(integration).data)

    @extend_schema(request=None, responses=s.MatchReportSerializer,
                   description="Read the remote's employees, jobs and cost codes now, keep them "
                               "as the integration's reference catalog and link what matches "
                               "(links set by hand are kept). 503 when the remote cannot be "
                               "reached (with Retry-After when it said), 502 when it refuses, "
                               "409 when the integration is disconnected.")
    @action(detail=True, methods=["post"], url_path="refresh-links")
    def refresh_links(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        report = services.integration_refresh_links(
            actor=self.membership, integration=self.get_object()
        )
        return Response(s.MatchReportSerializer(report).data)

    @extend_schema(request=None, responses=s.PrerequisiteSerializer(many=True),
                   description="Check what Procore must have for a sync (Timecard tool "
                               "reachable, projects visible to the app, people marked as "
                               "employees, time types present): one line each, also kept for "
                               "the integration's page. Admins only; Procore integrations.")
    @action(detail=True, methods=["post"], pagination_class=None)
    def prerequisites(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lines = procore.procore_prerequisites_check(actor=self.membership,
                                                    integration=self.get_object())
        return Response(s.PrerequisiteSerializer(lines, many=True).data)

    @extend_schema(request=s.ReferenceImportRequestSerializer,
                   responses=s.ReferenceImportSerializer,
                   description="Import from Procore: link our workers, projects and cost codes "
                               "to Procore's where they match, create ours for the rest, and "
                               "say what was created, linked and left unmatched. Running it "
                               "again changes nothing. Admins only.")
    @action(detail=True, methods=["post"], url_path="import-references")
    def import_references(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        options = s.ReferenceImportRequestSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        report = reference_import.references_import(
            actor=self.membership, integration=self.get_object(),
            sub_jobs_as_projects=options.validated_data["sub_jobs_as_projects"])
        return Response(s.ReferenceImportSerializer(report).data)

    @extend_schema(request=None, responses=s.ConnectionTestSerializer,
                   description="Ask the remote whether the stored address and credentials work: "
                               "200 when they do, 502 refused, 503 unreachable, 409 "
                               "disconnected.")
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        integration = self.get_object()
        services.integration_test_connection(actor=self.membership, integration=integration)
        return Response(s.ConnectionTestSerializer({
            "detail": f"{integration.name} answered: the address and the credentials work."
        }).data)

    @extend_schema(parameters=[OpenApiParameter("week", OpenApiTypes.DATE)],
                   responses=s.CellSerializer(many=True),
                   description="The Sync Dashboard's week: one cell per project and day.")
    @action(detail=True, methods=["get"], pagination_class=None)
    def cells(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        integration = self.get_object()  # an unknown integration is a 404 before any 400
        query = s.CellQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        # "This week" where the organization works, as on the Sync Dashboard.
        week = grid_cells.sync_week(organization=self.membership.organization,
                                   day=query.validated_data.get("week"))
        from timesync import selectors as domain

        project_ids = domain.project_list(membership=self.membership, active=True) \
            .values_list("pk", flat=True)
        cells = grid_cells.sync_cells(integration=integration, project_ids=project_ids,
                                     dates=week)
        return Response(s.CellSerializer(cells.values(), many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("project", OpenApiTypes.INT, required=True),
                    OpenApiParameter("work_date", OpenApiTypes.DATE, required=True)],
        responses=s.PreviewSerializer,
        description="What a sync of this project and day would create, update, delete and "
                    "skip, without writing anything.",
    )
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        integration = self.get_object()  # an unknown integration is a 404 before any 400
        query = s.ProjectDaySerializer(data=request.query_params,
                                       context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        preview = selectors.sync_preview(
            integration=integration, project=query.validated_data["project"],
            work_date=query.validated_data["work_date"],
        )
        return Response(s.PreviewSerializer(preview).data)


class IntegrationScopedMixin(OrganizationScopedMixin):
    integration: Integration

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.integration = selectors.access_integration(self.membership,
                                                        kwargs["integration_id"])


RUN_FILTERS = [
    ORGANIZATION_SLUG, INTEGRATION_ID,
    OpenApiParameter("project", ID_SCHEMA),
    OpenApiParameter("date_from", OpenApiTypes.DATE),
    OpenApiParameter("date_to", OpenApiTypes.DATE),
    OpenApiParameter("state", OpenApiTypes.STR,
                     enum=["queued", "running", "succeeded", "succeeded_with_warnings",
                           "failed"]),
]


@extend_schema(parameters=[ORGANIZATION_SLUG, INTEGRATION_ID], tags=["syncs"])
class SyncRunViewSet(IntegrationScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     viewsets.GenericViewSet):
    serializer_class = s.SyncRunSerializer
    lookup_url_kwarg = "run_id"
    write_refused = "Your role can see syncs but not start them."

    def may_write(self, membership: Membership) -> bool:
        return roles.can_sync_some_projects(membership)

    def get_queryset(self) -> QuerySet[SyncRun]:
        if self._fake():
            return SyncRun.objects.none()
        if self.action != "list":
            return selectors.run_list(membership=self.membership, integration=self.integration)
        filters = s.SyncRunFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        query = dict(filters.validated_data)
        if "project" in query:
            query["project_id"] = query.pop("project")
        return selectors.run_list(membership=self.membership, integration=self.integration,
                                  **query)

    @extend_schema(parameters=RUN_FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=s.ProjectDaySerializer,
        responses={201: s.SyncRunSerializer,
                   200: OpenApiResponse(s.SyncRunSerializer,
                                        description="A run of this project and day was already "
                                                    "queued or running: that run.")},
        description="Start a timecard sync of one project and day.",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = s.ProjectDaySerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        selectors.require_connected(self.integration)  # 409, as every endpoint answers it
        try:
            started = runs.sync_run_start(
                integration=self.integration, project=body.validated_data["project"],
                work_date=body.validated_data["work_date"], trigger=SyncTrigger.API,
                actor=self.membership,
            )
        except selectors.IntegrationReceivesOnly:
            raise  # 409: the integration's direction, not the body, says no
        except PermanentError as error:
            raise ValidationError({"non_field_errors": [str(error)]}) from error
        return Response(s.SyncRunSerializer(started.run).data,
                        status=status.HTTP_201_CREATED if started.created else status.HTTP_200_OK)

    @extend_schema(responses=s.SyncLogEntrySerializer(many=True),
                   description="The run's detailed log, one line per worker and shift.")
    @action(detail=True, methods=["get"])
    def entries(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        entries = SyncLogEntry.objects.filter(run=self.get_object()).order_by("id")
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(s.SyncLogEntrySerializer(page, many=True).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR},
                   description="The run's detailed log as CSV, streamed.")
    @action(detail=True, methods=["get"], url_path="csv",
            renderer_classes=[CSVRenderer, JSONRenderer])
    def csv(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        return csv_response(self.get_object())


def csv_response(run: SyncRun) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csvlog.run_csv_rows(run), content_type="text/csv")
    response["Content-Disposition"] = csvlog.run_csv_disposition(run)
    return response


@extend_schema(parameters=[ORGANIZATION_SLUG, INTEGRATION_ID], tags=["integrations"])
class ProjectLinkViewSet(IntegrationScopedMixin, mixins.ListModelMixin, mixins.CreateModelMixin,
                         mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """How each project syncs to this integration (remote job, enabled, approved only)."""

    write_refused = "Only admins and payroll admins change mappings."

    def may_write(self, membership: Membership) -> bool:
        return roles.can_change_mappings(membership)

    serializer_class = s.ProjectLinkSerializer
    lookup_url_kwarg = "project_link_id"

    def get_queryset(self) -> QuerySet[ProjectLink]:
        if self._fake():
            return ProjectLink.objects.none()
        from timesync import selectors as domain

        visible = domain.project_list(membership=self.membership)
        return ProjectLink.objects.filter(integration=self.integration, project__in=visible) \
            .select_related("project").order_by("project__name")

    def perform_create(self, serializer: s.ProjectLinkSerializer) -> None:
        serializer.instance = services.project_link_set(
            actor=self.membership, integration=self.integration, **serializer.validated_data
        )

    def perform_update(self, serializer: s.ProjectLinkSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("project", None)
        serializer.instance = services.project_link_set(
            actor=self.membership, integration=self.integration,
            project=serializer.instance.project, **data,
        )


@extend_schema(parameters=[ORGANIZATION_SLUG, INTEGRATION_ID], tags=["integrations"])
class WorkerLinkViewSet(IntegrationScopedMixin, mixins.ListModelMixin, mixins.CreateModelMixin,
                        viewsets.GenericViewSet):
    """Which remote employee each worker is; POST sets one by hand."""

    write_refused = "Only admins and payroll admins change mappings."

    def may_write(self, membership: Membership) -> bool:
        return roles.can_change_mappings(membership)

    serializer_class = s.WorkerLinkSerializer

    def get_queryset(self) -> QuerySet[WorkerLink]:
        if self._fake():
            return WorkerLink.objects.none()
        return WorkerLink.objects.filter(integration=self.integration) \
            .select_related("worker").order_by("worker__name")

    def perform_create(self, serializer: s.WorkerLinkSerializer) -> None:
        serializer.instance = services.worker_link_set(
            actor=self.membership, integration=self.integration, **serializer.validated_data
        )


@extend_schema(parameters=[ORGANIZATION_SLUG, INTEGRATION_ID], tags=["integrations"])
class ProcoreMessageViewSet(IntegrationScopedMixin, mixins.ListModelMixin,
                            mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Changes received from Procore (webhooks and the sweep), newest first; POST
    .../retry/ sends a failed one again."""

    serializer_class = s.InboundMessageSerializer
    lookup_url_kwarg = "message_id"
    write_refused = "Only admins retry messages from Procore."

    def may_write(self, membership: Membership) -> bool:
        return roles.can_manage_integrations(membership)

    def get_queryset(self) -> QuerySet[InboundEvent]:
        if self._fake():
            return InboundEvent.objects.none()
        if self.action != "list":
            return selectors.inbound_event_list(integration=self.integration)
        filters = s.InboundMessageFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.inbound_event_list(integration=self.integration,
                                            state=filters.validated_data.get("state"))

    @extend_schema(parameters=[OpenApiParameter(
        "state", OpenApiTypes.STR, enum=list(InboundState.values))])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={202: s.InboundMessageSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        message = procore_receive.inbound_event_retry(
            actor=self.membership, integration=self.integration,
            event_id=int(kwargs["message_id"]))
        return Response(s.InboundMessageSerializer(message).data,
                        status=status.HTTP_202_ACCEPTED)
