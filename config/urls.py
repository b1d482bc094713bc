from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("support/admin/", admin.site.urls),
    path("api/", include("timesync.api.urls")),
    path("", include("dashboard.urls")),
]
