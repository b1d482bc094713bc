from django.contrib import admin
from django.urls import include, path

from connectors.procore.views import procore_webhook

urlpatterns = [
    path("support/admin/", admin.site.urls),
    path("api/", include("timesync.api.urls")),
    # Procore posts here; the random id names the integration, the secret proves it is Procore.
    path("webhooks/procore/<uuid:public_id>/", procore_webhook, name="procore_webhook"),
    path("", include("dashboard.urls")),
]

# Under /api/ these answer as problem details (application/problem+json), like every API error.
handler404 = "timesync.api.errors.page_not_found"
handler500 = "timesync.api.errors.server_error"
