from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("support/admin/", admin.site.urls),
    path("api/", include("timesync.api.urls")),
    path("", include("dashboard.urls")),
]

# Under /api/ these answer as problem details (application/problem+json), like every API error.
handler404 = "timesync.api.errors.page_not_found"
handler500 = "timesync.api.errors.server_error"
