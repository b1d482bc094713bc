from django.contrib import admin
from django.urls import include, path

from connectors.procore.views import procore_webhook
from connectors.quickbooks.views import web_connector_service

urlpatterns = [
    path("support/admin/", admin.site.urls),
    path("api/", include("timesync.api.urls")),
    # Procore posts here; the random id names the integration, the secret proves it is Procore.
    path("webhooks/procore/<uuid:public_id>/", procore_webhook, name="procore_webhook"),
    # The QuickBooks Web Connector calls here (SOAP), for every organization: its user name and
    # then its ticket say whose it is.
    path("qbwc/", web_connector_service, name="qbwc"),
    path("", include("dashboard.urls")),
]

# Under /api/ these answer as problem details (application/problem+json), like every API error.
handler404 = "timesync.api.errors.page_not_found"
handler500 = "timesync.api.errors.server_error"
