from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from timesync.api import auth_views, sync_views, views

# The docs pages' templates (drf-spectacular's) carry an inline <style>, and Swagger UI draws
# its icons as data: images: allowed there alone. Their scripts still come from our origin.
_docs_page = csp_update({"style-src": [UNSAFE_INLINE], "img-src": ["data:"],
                         "worker-src": ["blob:"]})

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
integration_router.register("procore-messages", sync_views.ProcoreMessageViewSet,
                            basename="procore-message")

# The docs pages' templates (drf-spectacular's) carry an inline <style>, and Swagger UI draws
# its icons as data: images: allowed there alone. Their scripts still come from our origin.
_docs_page = csp_update({"style-src": [UNSAFE_INLINE], "img-src": ["data:"],
                         "worker-src": ["blob:"]})

app_name = "api"
urlpatterns = [
    path("v1/auth/token/", auth_views.TokenView.as_view(), name="token"),
    path("v1/auth/tokens/", auth_views.TokenListView.as_view(), name="tokens"),
    path("v1/auth/tokens/<str:token_id>/", auth_views.TokenDetailView.as_view(),
         name="token_detail"),
    path("v1/auth/sign-out/", auth_views.SignOutView.as_view(), name="sign_out"),
    path("v1/organizations/", views.OrganizationListView.as_view(), name="organizations"),
    path("v1/orgs/<slug:organization_slug>/", include(router.urls)),
    path("v1/orgs/<slug:organization_slug>/integrations/<int:integration_id>/",
         include(integration_router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", _docs_page(SpectacularSwaggerView.as_view(url_name="api:schema")),
         name="docs"),
    path("redoc/", _docs_page(SpectacularRedocView.as_view(url_name="api:schema")),
         name="redoc"),
]
