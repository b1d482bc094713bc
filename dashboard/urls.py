from django.urls import include, path

from dashboard import integration_pages, procore_pages, project_pages, sync_dashboard, views

organization_patterns = [
    path("", views.organization_home, name="organization_home"),
    path("settings/", views.organization_settings, name="organization_settings"),
    path("members/", views.members, name="members"),
    path("members/<int:membership_id>/", views.member_edit, name="member_edit"),
    path("members/<int:membership_id>/active/", views.member_set_active,
         name="member_set_active"),
    path("invitations/<int:invitation_id>/revoke/", views.invitation_revoke,
         name="invitation_revoke"),
    path("integrations/<int:integration_id>/dashboard/", sync_dashboard.sync_dashboard,
         name="sync_dashboard"),
    path("integrations/<int:integration_id>/dashboard/preview/", sync_dashboard.sync_preview,
         name="sync_preview"),
    path("integrations/<int:integration_id>/dashboard/sync/", sync_dashboard.sync_start,
         name="sync_start"),
    path("integrations/<int:integration_id>/dashboard/poll/", sync_dashboard.sync_poll,
         name="sync_poll"),
    path("integrations/<int:integration_id>/runs/<int:run_id>/status/",
         sync_dashboard.sync_run_status, name="sync_run_status"),
    *integration_pages.integration_patterns,
    *procore_pages.procore_patterns,
    *project_pages.project_patterns,
]

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon),
    path("accounts/", include("django.contrib.auth.urls")),
    path("signup/", views.sign_up, name="sign_up"),
    path("signup/confirm/<str:token>/", views.sign_up_confirm, name="sign_up_confirm"),
    path("organizations/new/", views.organization_new, name="organization_new"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("o/<slug:organization_slug>/", include(organization_patterns)),
    *procore_pages.callback_patterns,
]
