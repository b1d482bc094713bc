"""The members page (admins only): the member list, email invitations and their links, roles,
project assignments, deactivation, and the rule that an organization keeps an active admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from tests import factories
from tests.dashboard.helpers import last_invitation_link, visible_text
from timesync.models import Invitation, Membership, Role, User

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Rebar and mesh 2026"


@pytest.fixture
def admin_client(browser_client, admin):
    return browser_client(admin)


def members_url(organization) -> str:
    return f"/o/{organization.slug}/members/"


def signed_in(membership) -> Client:
    """A separate browser for a second person."""
    browser = Client()
    browser.force_login(membership.user)
    return browser


# --- The list -------------------------------------------------------------------------------


def test_members_page_lists_the_organizations_members(admin_client, admin, member):
    viewer = member(Role.VIEWER, user=factories.UserFactory(full_name="Vic Viewer"))
    outsider = factories.MembershipFactory(user=factories.UserFactory(full_name="Olga Outside"))

    response = admin_client.get(members_url(admin.organization))

    assert response.status_code == 200
    text = visible_text(response.content)
    assert "Vic Viewer" in text
    assert viewer.user.email in text
    assert "Viewer" in text
    assert admin.user.email in text
    assert "Olga Outside" not in text
    assert outsider.user.email not in text


def test_members_page_shows_open_invitations(admin_client, admin, invite):
    invite(admin_client, admin.organization, "pending.person@example.com", Role.PAYROLL_ADMIN)

    response = admin_client.get(members_url(admin.organization))

    assert "pending.person@example.com Payroll admin" in visible_text(response.content)


# --- Invitations ----------------------------------------------------------------------------


def test_inviting_sends_one_email_with_an_accept_link(admin_client, admin, invite):
    response = invite(admin_client, admin.organization, "new.hire@example.com")

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.hire@example.com"]
    assert admin.organization.name in mail.outbox[0].subject
    accept_page = Client().get(last_invitation_link())
    assert accept_page.status_code == 200
    assert f"Join {admin.organization.name}" in visible_text(accept_page.content)


def test_invitation_email_names_the_organization_the_role_and_who_invited(
    admin_client, admin, invite
):
    admin.user.full_name = "Ada Admin"
    admin.user.save()

    invite(admin_client, admin.organization, "new.hire@example.com", Role.PROJECT_MANAGER)

    body = mail.outbox[0].body
    assert f"Ada Admin invited you to join {admin.organization.name}" in body
    assert "as Project manager" in body


def test_inviting_confirms_on_the_page(admin_client, admin, eager_celery):
    response = admin_client.post(
        members_url(admin.organization), {"email": "new.hire@example.com", "role": Role.VIEWER},
        follow=True,
    )

    assert "Invitation sent to new.hire@example.com." in visible_text(response.content)


def test_inviting_an_existing_members_email_shows_a_form_error(
    admin_client, admin, member, invite
):
    existing = member(Role.VIEWER)

    response = invite(admin_client, admin.organization, existing.user.email.upper())

    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert "is a member already" in visible_text(response.content)
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_reinviting_replaces_the_earlier_invitation(admin_client, admin, invite):
    invite(admin_client, admin.organization, "twice@example.com", Role.VIEWER)
    first_link = last_invitation_link()
    invite(admin_client, admin.organization, "twice@example.com", Role.PAYROLL_ADMIN)
    second_link = last_invitation_link()

    old = Client().get(first_link)
    new = Client().get(second_link)

    assert old.status_code == 404
    assert "This invitation no longer works" in visible_text(old.content)
    assert new.status_code == 200
    assert "Payroll admin" in visible_text(new.content)


def test_revoked_invitation_link_no_longer_works(admin_client, admin, invite):
    invite(admin_client, admin.organization, "revoked@example.com")
    link = last_invitation_link()
    invitation = Invitation.objects.get(email="revoked@example.com")

    revoke = admin_client.post(
        f"/o/{admin.organization.slug}/invitations/{invitation.pk}/revoke/", follow=True
    )

    assert "Invitation of revoked@example.com revoked." in visible_text(revoke.content)
    response = Client().get(link)
    assert response.status_code == 404
    assert "This invitation no longer works" in visible_text(response.content)


def test_accepting_as_a_new_user_creates_the_account_with_the_invited_role(
    admin_client, admin, invite
):
    invite(admin_client, admin.organization, "fresh@example.com", Role.PAYROLL_ADMIN)

    Client().post(last_invitation_link(), {"full_name": "Fran Fresh", "password": NEW_PASSWORD})

    user = User.objects.get(email="fresh@example.com")
    assert user.full_name == "Fran Fresh"
    assert user.check_password(NEW_PASSWORD)
    membership = Membership.objects.get(user=user)
    assert membership.organization == admin.organization
    assert membership.role == Role.PAYROLL_ADMIN
    assert membership.is_active


def test_accepting_as_a_new_user_signs_them_in_on_the_organization_page(
    admin_client, admin, invite
):
    invite(admin_client, admin.organization, "fresh@example.com", Role.VIEWER)
    browser = Client()

    response = browser.post(
        last_invitation_link(), {"full_name": "Fran Fresh", "password": NEW_PASSWORD},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == f"/o/{admin.organization.slug}/"
    assert f"You joined {admin.organization.name}." in visible_text(response.content)
    assert "_auth_user_id" in browser.session


def test_accepting_as_a_new_user_with_a_weak_password_shows_an_error(
    admin_client, admin, invite
):
    invite(admin_client, admin.organization, "fresh@example.com")

    response = Client().post(last_invitation_link(), {"full_name": "Fran", "password": "123"})

    assert response.status_code == 200
    assert "password" in response.context["form"].errors
    assert not User.objects.filter(email="fresh@example.com").exists()


def test_an_accepted_invitation_link_no_longer_works(admin_client, admin, invite):
    invite(admin_client, admin.organization, "fresh@example.com")
    link = last_invitation_link()
    Client().post(link, {"full_name": "Fran Fresh", "password": NEW_PASSWORD})

    response = Client().get(link)

    assert response.status_code == 404


def test_accepting_while_signed_in_with_the_invited_email_joins(admin_client, admin, invite):
    elsewhere = factories.MembershipFactory(user=factories.UserFactory(email="known@example.com"))
    invite(admin_client, admin.organization, "known@example.com", Role.VIEWER)

    response = signed_in(elsewhere).post(last_invitation_link(), follow=True)

    assert response.redirect_chain[-1][0] == f"/o/{admin.organization.slug}/"
    assert Membership.objects.get(
        user=elsewhere.user, organization=admin.organization
    ).role == Role.VIEWER


def test_accepting_while_signed_in_as_a_different_email_is_refused(admin_client, admin, invite):
    someone_else = factories.MembershipFactory()
    invite(admin_client, admin.organization, "intended@example.com", Role.ADMIN)

    response = signed_in(someone_else).post(last_invitation_link())

    assert response.status_code == 200
    assert "This invitation is for intended@example.com" in visible_text(response.content)
    assert not Membership.objects.filter(
        organization=admin.organization, user=someone_else.user
    ).exists()
    assert Invitation.objects.get(email="intended@example.com").accepted_at is None


def test_accepting_anonymously_for_an_email_that_has_an_account_asks_to_sign_in(
    admin_client, admin, invite
):
    factories.UserFactory(email="known@example.com")
    invite(admin_client, admin.organization, "known@example.com")

    response = Client().post(last_invitation_link(), {"full_name": "Imposter",
                                                      "password": NEW_PASSWORD})

    assert response.status_code == 200
    assert "sign in to accept the invitation" in visible_text(response.content)
    assert not Membership.objects.filter(organization=admin.organization,
                                         user__email="known@example.com").exists()


def test_an_expired_invitation_link_does_not_work(admin_client, admin, invite):
    invite(admin_client, admin.organization, "late@example.com")
    Invitation.objects.filter(email="late@example.com").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    link = last_invitation_link()

    page = Client().get(link)
    accept = Client().post(link, {"full_name": "Lee Late", "password": NEW_PASSWORD})

    assert page.status_code == 404
    assert "This invitation no longer works" in visible_text(page.content)
    assert accept.status_code == 404
    assert not User.objects.filter(email="late@example.com").exists()


def test_a_made_up_invitation_link_does_not_work(client):
    response = client.get("/invitations/not-a-real-token/")

    assert response.status_code == 404
    assert "This invitation no longer works" in visible_text(response.content)


def test_invitation_revoked_before_its_email_goes_out_is_not_emailed(
    admin_client, admin, eager_celery, django_capture_on_commit_callbacks
):
    # The email task runs after the request; an invitation revoked by then must not go out.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_client.post(members_url(admin.organization),
                          {"email": "gone@example.com", "role": Role.VIEWER})
    Invitation.objects.filter(email="gone@example.com").update(revoked_at=timezone.now())

    for callback in callbacks:
        callback()

    assert mail.outbox == []


# --- Roles and project assignments ----------------------------------------------------------


@pytest.fixture
def projects(organization):
    return (
        factories.ProjectFactory(organization=organization, name="Harbour Tower"),
        factories.ProjectFactory(organization=organization, name="Quarry Bridge"),
    )


def make_project_manager(admin_client, membership, *assigned):
    return admin_client.post(
        f"/o/{membership.organization.slug}/members/{membership.pk}/",
        {"role": Role.PROJECT_MANAGER, "assigned_projects": [p.pk for p in assigned]},
    )


def test_changing_a_role_saves_it_and_confirms(admin_client, member):
    viewer = member(Role.VIEWER, user=factories.UserFactory(full_name="Vic Viewer"))

    response = admin_client.post(
        f"/o/{viewer.organization.slug}/members/{viewer.pk}/", {"role": Role.PAYROLL_ADMIN},
        follow=True,
    )

    viewer.refresh_from_db()
    assert viewer.role == Role.PAYROLL_ADMIN
    assert "Vic Viewer is now Payroll admin." in visible_text(response.content)


def test_project_manager_sees_only_the_assigned_projects(admin_client, member, projects):
    harbour, _quarry = projects
    manager = member(Role.VIEWER)
    assert make_project_manager(admin_client, manager, harbour).status_code == 302

    response = signed_in(manager).get(f"/o/{manager.organization.slug}/")

    text = visible_text(response.content)
    assert "Harbour Tower" in text
    assert "Quarry Bridge" not in text


def test_project_manager_gets_404_on_a_project_not_assigned(admin_client, member, projects):
    harbour, quarry = projects
    manager = member(Role.VIEWER)
    make_project_manager(admin_client, manager, harbour)
    browser = signed_in(manager)
    slug = manager.organization.slug

    assert browser.get(f"/o/{slug}/projects/{quarry.pk}/").status_code == 404
    assert browser.get(f"/o/{slug}/projects/{harbour.pk}/").status_code == 200


def test_members_page_shows_a_project_managers_projects(admin_client, member, projects):
    harbour, _quarry = projects
    manager = member(Role.VIEWER, user=factories.UserFactory(full_name="Max Manager"))
    make_project_manager(admin_client, manager, harbour)

    response = admin_client.get(members_url(manager.organization))

    assert f"{manager.user.email} Project manager {harbour} Active" in visible_text(
        response.content
    )


def test_role_page_does_not_offer_another_organizations_projects(admin_client, member):
    manager = member(Role.VIEWER)
    foreign = factories.ProjectFactory(name="Someone Else's Mall")

    response = admin_client.post(
        f"/o/{manager.organization.slug}/members/{manager.pk}/",
        {"role": Role.PROJECT_MANAGER, "assigned_projects": [foreign.pk]},
    )

    assert response.status_code == 200
    assert "assigned_projects" in response.context["form"].errors
    assert not manager.assigned_projects.exists()


def test_admin_cannot_open_a_member_of_another_organization(admin_client, admin):
    foreign = factories.MembershipFactory(role=Role.VIEWER)

    url = f"/o/{admin.organization.slug}/members/{foreign.pk}/"

    assert admin_client.get(url).status_code == 404
    assert admin_client.post(url, {"role": Role.ADMIN}).status_code == 404
    foreign.refresh_from_db()
    assert foreign.role == Role.VIEWER


# --- Deactivation ---------------------------------------------------------------------------


def deactivate(admin_client, membership):
    return admin_client.post(
        f"/o/{membership.organization.slug}/members/{membership.pk}/active/",
        {"active": "false"}, follow=True,
    )


def test_deactivated_member_gets_404_on_the_organizations_pages(admin_client, member, projects):
    viewer = member(Role.VIEWER)
    browser = signed_in(viewer)
    slug = viewer.organization.slug
    assert browser.get(f"/o/{slug}/").status_code == 200

    deactivate(admin_client, viewer)

    assert browser.get(f"/o/{slug}/").status_code == 404
    assert browser.get(f"/o/{slug}/projects/{projects[0].pk}/").status_code == 404


def test_deactivated_member_no_longer_sees_the_organization_in_the_switcher(
    admin_client, member
):
    viewer = member(Role.VIEWER)
    other = factories.MembershipFactory(user=viewer.user, role=Role.VIEWER)
    browser = signed_in(viewer)
    before = browser.get(f"/o/{other.organization.slug}/")
    assert f'href="/o/{viewer.organization.slug}/"'.encode() in before.content

    deactivate(admin_client, viewer)

    after = browser.get(f"/o/{other.organization.slug}/")
    assert f'href="/o/{viewer.organization.slug}/"'.encode() not in after.content
    assert viewer.organization.name not in visible_text(after.content)


def test_deactivated_member_of_a_single_organization_sees_the_no_organization_page(
    admin_client, member
):
    viewer = member(Role.VIEWER)
    browser = signed_in(viewer)
    browser.get(f"/o/{viewer.organization.slug}/")

    deactivate(admin_client, viewer)

    response = browser.get("/", follow=True)
    assert response.status_code == 200
    assert "You are not in an organization yet" in visible_text(response.content)


def test_deactivation_is_confirmed_and_shown_on_the_members_page(admin_client, member):
    viewer = member(Role.VIEWER, user=factories.UserFactory(full_name="Vic Viewer"))

    response = deactivate(admin_client, viewer)

    assert "Vic Viewer was deactivated." in visible_text(response.content)
    assert "Viewer all Deactivated" in visible_text(response.content)


def test_reactivated_member_can_open_the_organization_again(admin_client, member):
    viewer = member(Role.VIEWER)
    deactivate(admin_client, viewer)

    admin_client.post(
        f"/o/{viewer.organization.slug}/members/{viewer.pk}/active/", {"active": "true"}
    )

    assert signed_in(viewer).get(f"/o/{viewer.organization.slug}/").status_code == 200


def test_deactivation_needs_a_post(admin_client, member):
    viewer = member(Role.VIEWER)

    response = admin_client.get(f"/o/{viewer.organization.slug}/members/{viewer.pk}/active/")

    assert response.status_code == 405
    viewer.refresh_from_db()
    assert viewer.is_active


# --- The last admin -------------------------------------------------------------------------


def test_last_active_admin_cannot_be_demoted(admin_client, admin):
    response = admin_client.post(
        f"/o/{admin.organization.slug}/members/{admin.pk}/", {"role": Role.VIEWER}
    )

    assert response.status_code == 200
    assert "needs at least one active admin" in visible_text(response.content)
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_last_active_admin_cannot_be_deactivated(admin_client, admin):
    response = deactivate(admin_client, admin)

    assert "needs at least one active admin" in visible_text(response.content)
    admin.refresh_from_db()
    assert admin.is_active
    assert admin.role == Role.ADMIN


def test_an_admin_can_be_demoted_while_another_active_admin_remains(admin_client, admin, member):
    other_admin = member(Role.ADMIN)

    admin_client.post(
        f"/o/{admin.organization.slug}/members/{other_admin.pk}/", {"role": Role.VIEWER}
    )

    other_admin.refresh_from_db()
    assert other_admin.role == Role.VIEWER


def test_a_deactivated_admin_does_not_count_as_the_remaining_admin(admin_client, admin, member):
    member(Role.ADMIN, is_active=False)

    admin_client.post(f"/o/{admin.organization.slug}/members/{admin.pk}/", {"role": Role.VIEWER})

    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


# --- Only admins ----------------------------------------------------------------------------

NON_ADMIN_ROLES = [Role.PAYROLL_ADMIN, Role.PROJECT_MANAGER, Role.VIEWER]


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
@pytest.mark.parametrize("page", ["members/", "settings/"])
def test_non_admins_get_403_on_the_members_and_settings_pages(browser_client, member, role, page):
    membership = member(role)

    response = browser_client(membership).get(f"/o/{membership.organization.slug}/{page}")

    assert response.status_code == 403


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_non_admins_cannot_invite(browser_client, member, role, invite):
    membership = member(role)

    response = invite(browser_client(membership), membership.organization, "x@example.com",
                      Role.ADMIN)

    assert response.status_code == 403
    assert not Invitation.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_non_admins_cannot_change_roles_or_deactivate(browser_client, admin, member, role):
    membership = member(role)
    browser = browser_client(membership)
    slug = membership.organization.slug

    promote = browser.post(f"/o/{slug}/members/{membership.pk}/", {"role": Role.ADMIN})
    deactivate_admin = browser.post(f"/o/{slug}/members/{admin.pk}/active/", {"active": "false"})

    assert promote.status_code == 403
    assert deactivate_admin.status_code == 403
    membership.refresh_from_db()
    admin.refresh_from_db()
    assert membership.role == role
    assert admin.is_active


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_non_admins_cannot_revoke_invitations(admin_client, admin, member, role, invite):
    invite(admin_client, admin.organization, "keep@example.com")
    invitation = Invitation.objects.get(email="keep@example.com")
    membership = member(role)

    response = signed_in(membership).post(
        f"/o/{admin.organization.slug}/invitations/{invitation.pk}/revoke/"
    )

    assert response.status_code == 403
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_non_admins_see_no_members_or_settings_links(browser_client, member, role):
    membership = member(role)
    slug = membership.organization.slug

    response = browser_client(membership).get(f"/o/{slug}/")

    assert f'href="/o/{slug}/members/"'.encode() not in response.content
    assert f'href="/o/{slug}/settings/"'.encode() not in response.content


def test_admins_see_the_members_and_settings_links(admin_client, admin):
    slug = admin.organization.slug

    response = admin_client.get(f"/o/{slug}/")

    assert f'href="/o/{slug}/members/"'.encode() in response.content
    assert f'href="/o/{slug}/settings/"'.encode() in response.content


def test_admin_of_another_organization_gets_404_on_this_members_page(client, admin):
    other_admin = factories.MembershipFactory(role=Role.ADMIN)
    client.force_login(other_admin.user)

    assert client.get(members_url(admin.organization)).status_code == 404

