from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from timesync.api import sync_views, views

router = DefaultRouter()
router.include_root_view = False
router.register("projects", views.ProjectViewSet, basename="project")
router.register("workers", views.WorkerViewSet, basename="worker")
router.register("cost-codes", views.CostCodeViewSet, basename="cost-code")
router.register("shifts", views.ShiftViewSet, basename="shift")
router.register("integrations", sync_views.IntegrationViewSet, basename="integration")

integration_router = DefaultRouter()
integration_router.include_root_view = False
integration_router.register("runs", sync_views.SyncRunViewSet, basename="sync-run")
integration_router.register("project-links", sync_views.ProjectLinkViewSet,
                            basename="project-link")
integration_router.register("worker-links", sync_views.WorkerLinkViewSet, basename="worker-link")

app_name = "api"
urlpatterns = [
    path("v1/auth/token/", views.TokenView.as_view(), name="token"),
    path("v1/organizations/", views.OrganizationListView.as_view(), name="organizations"),
    path("v1/orgs/<slug:organization_slug>/", include(router.urls)),
    path("v1/orgs/<slug:organization_slug>/integrations/<int:integration_id>/",
         include(integration_router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
