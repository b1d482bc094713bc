"""Onboarding services: sign-up and new organizations, invitations (only a hash of the token
is stored), accepting them, roles and deactivation (an organization keeps an active admin),
and the admin-only rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tests import factories
from timesync import services
from timesync.models import Invitation, Membership, Organization, Role, User

pytestmark = pytest.mark.django_db

ACCEPT_URL = "https://timesync.example/invitations/{token}/"
PASSWORD = "Formwork crews 2026"


def sign_up(**overrides) -> Membership:
    fields = {
        "organization_name": "Acme Builders",
        "time_zone": "America/Edmonton",
        "email": "owner@acme.example",
        "full_name": "Olive Owner",
        "password": PASSWORD,
        **overrides,
    }
    return services.organization_sign_up(**fields)


def invite(actor: Membership, email: str = "invitee@example.com", role: str = Role.VIEWER):
    return services.invitation_create(
        actor=actor, email=email, role=role, accept_url_template=ACCEPT_URL
    )


# --- Sign-up and new organizations ----------------------------------------------------------


def test_sign_up_creates_the_organization_with_its_time_zone():
    membership = sign_up()

    organization = Organization.objects.get(pk=membership.organization_id)
    assert organization.name == "Acme Builders"
    assert organization.time_zone == "America/Edmonton"


def test_sign_up_makes_the_new_user_the_organizations_active_admin():
    membership = sign_up()

    stored = Membership.objects.get(organization=membership.organization)
    assert stored.user.email == "owner@acme.example"
    assert stored.user.full_name == "Olive Owner"
    assert stored.user.check_password(PASSWORD)
    assert stored.role == Role.ADMIN
    assert stored.is_active


def test_sign_up_stores_the_email_in_lower_case():
    membership = sign_up(email="Owner@Acme.Example")

    assert membership.user.email == "owner@acme.example"


def test_two_organizations_with_the_same_name_get_different_slugs():
    first = sign_up(email="one@acme.example")
    second = sign_up(email="two@acme.example")

    assert first.organization.slug == "acme-builders"
    assert second.organization.slug != first.organization.slug
    assert second.organization.slug.startswith("acme-builders")


def test_a_name_without_letters_for_a_slug_still_gets_a_unique_slug():
    first = sign_up(organization_name="建設", email="one@acme.example")
    second = sign_up(organization_name="建設", email="two@acme.example")

    assert first.organization.slug
    assert second.organization.slug
    assert first.organization.slug != second.organization.slug


def test_sign_up_refuses_an_email_already_used_whatever_its_capitals():
    factories.UserFactory(email="owner@acme.example")

    with pytest.raises(ValidationError) as raised:
        sign_up(email="OWNER@acme.example")

    assert "email" in raised.value.error_dict
    assert not Organization.objects.filter(name="Acme Builders").exists()


def test_sign_up_refuses_an_unknown_time_zone_and_creates_nothing():
    with pytest.raises(ValidationError):
        sign_up(time_zone="Atlantis/Central")

    assert not User.objects.filter(email="owner@acme.example").exists()
    assert not Organization.objects.exists()


def test_sign_up_with_a_blank_company_name_creates_no_user():
    with pytest.raises(ValidationError):
        sign_up(organization_name="   ")

    assert not User.objects.filter(email="owner@acme.example").exists()


def test_a_signed_in_user_creating_an_organization_becomes_its_admin():
    user = factories.UserFactory()

    membership = services.organization_create(
        user=user, name="Second Venture", time_zone="Europe/London"
    )

    assert membership.user == user
    assert membership.role == Role.ADMIN
    assert membership.organization.time_zone == "Europe/London"


# --- Invitations ----------------------------------------------------------------------------


def test_invitation_stores_only_a_hash_of_the_token(admin):
    issued = invite(admin)

    row = Invitation.objects.filter(pk=issued.invitation.pk).values().get()
    assert issued.token
    assert all(issued.token not in str(value) for value in row.values())


def test_invitation_token_finds_its_invitation(admin):
    issued = invite(admin)

    assert services.invitation_for_token(token=issued.token) == issued.invitation
    assert services.invitation_for_token(token=issued.token + "x") is None


def test_invitation_tokens_are_different_each_time(admin):
    first = invite(admin, "a@example.com")
    second = invite(admin, "b@example.com")

    assert first.token != second.token


def test_invitation_records_the_email_in_lower_case_and_who_invited(admin):
    issued = invite(admin, "New.Person@Example.com", Role.PAYROLL_ADMIN)

    invitation = Invitation.objects.get(pk=issued.invitation.pk)
    assert invitation.email == "new.person@example.com"
    assert invitation.role == Role.PAYROLL_ADMIN
    assert invitation.invited_by == admin.user
    assert invitation.organization == admin.organization
    assert invitation.expires_at > timezone.now()


def test_invitation_of_an_existing_member_is_refused(admin, member):
    existing = member(Role.VIEWER)

    with pytest.raises(ValidationError) as raised:
        invite(admin, existing.user.email.upper())

    assert "email" in raised.value.error_dict


def test_invitation_with_an_unknown_role_is_refused(admin):
    with pytest.raises(ValidationError) as raised:
        invite(admin, role="superuser")

    assert "role" in raised.value.error_dict


def test_a_new_invitation_replaces_the_open_one_for_the_same_email(admin):
    first = invite(admin, "twice@example.com")
    second = invite(admin, "twice@example.com")

    assert services.invitation_for_token(token=first.token) is None
    assert services.invitation_for_token(token=second.token) == second.invitation


def test_accepting_as_a_new_account_creates_the_user_with_the_invited_role(admin):
    issued = invite(admin, "crew.lead@example.com", Role.PROJECT_MANAGER)

    membership = services.invitation_accept(
        token=issued.token, full_name="Cal Crew", password=PASSWORD
    )

    assert membership.user.email == "crew.lead@example.com"
    assert membership.user.check_password(PASSWORD)
    assert membership.organization == admin.organization
    assert membership.role == Role.PROJECT_MANAGER
    assert membership.is_active


def test_accepting_marks_the_invitation_used(admin):
    issued = invite(admin)

    membership = services.invitation_accept(token=issued.token, full_name="Ida", password=PASSWORD)

    invitation = Invitation.objects.get(pk=issued.invitation.pk)
    assert invitation.accepted_at is not None
    assert invitation.accepted_by == membership.user
    with pytest.raises(ValidationError):
        services.invitation_accept(token=issued.token, user=membership.user)


def test_accepting_for_an_existing_member_updates_the_role_and_reactivates(admin):
    issued = invite(admin, "returning@example.com", Role.PAYROLL_ADMIN)
    # Meanwhile the person became a (since deactivated) viewer of the organization.
    returning = factories.MembershipFactory(
        organization=admin.organization, role=Role.VIEWER, is_active=False,
        user=factories.UserFactory(email="returning@example.com"),
    )

    services.invitation_accept(token=issued.token, user=returning.user)

    returning.refresh_from_db()
    assert returning.role == Role.PAYROLL_ADMIN
    assert returning.is_active
    assert Membership.objects.filter(
        organization=admin.organization, user=returning.user
    ).count() == 1


def test_accepting_as_another_signed_in_user_is_refused(admin):
    issued = invite(admin, "intended@example.com", Role.ADMIN)
    other = factories.UserFactory(email="other@example.com")

    with pytest.raises(ValidationError):
        services.invitation_accept(token=issued.token, user=other)

    assert not Membership.objects.filter(organization=admin.organization, user=other).exists()
    assert services.invitation_for_token(token=issued.token) is not None


def test_accepting_as_a_new_account_when_the_email_has_an_account_is_refused(admin):
    factories.UserFactory(email="known@example.com")
    issued = invite(admin, "known@example.com")

    with pytest.raises(ValidationError):
        services.invitation_accept(token=issued.token, full_name="X", password=PASSWORD)

    assert User.objects.filter(email="known@example.com").count() == 1


def test_an_expired_invitation_cannot_be_accepted(admin):
    issued = invite(admin, "late@example.com")
    Invitation.objects.filter(pk=issued.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    with pytest.raises(ValidationError):
        services.invitation_accept(token=issued.token, full_name="Lee", password=PASSWORD)

    assert not User.objects.filter(email="late@example.com").exists()


def test_a_revoked_invitation_cannot_be_accepted(admin):
    issued = invite(admin, "revoked@example.com")
    services.invitation_revoke(actor=admin, invitation=issued.invitation)

    with pytest.raises(ValidationError):
        services.invitation_accept(token=issued.token, full_name="Rae", password=PASSWORD)

    assert not User.objects.filter(email="revoked@example.com").exists()


# --- Roles, deactivation, the last admin ----------------------------------------------------


def test_changing_a_role_with_assigned_projects_saves_both(admin, member, organization):
    manager = member(Role.VIEWER)
    project = factories.ProjectFactory(organization=organization)

    services.member_change_role(
        actor=admin, membership=manager, role=Role.PROJECT_MANAGER, assigned_projects=[project]
    )

    manager.refresh_from_db()
    assert manager.role == Role.PROJECT_MANAGER
    assert list(manager.assigned_projects.all()) == [project]


def test_the_only_admin_cannot_demote_themselves(admin):
    with pytest.raises(ValidationError) as raised:
        services.member_change_role(actor=admin, membership=admin, role=Role.VIEWER)

    assert "role" in raised.value.error_dict
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_the_only_active_admin_cannot_be_demoted_when_the_other_admin_is_deactivated(
    admin, member
):
    member(Role.ADMIN, is_active=False)

    with pytest.raises(ValidationError):
        services.member_change_role(actor=admin, membership=admin, role=Role.PAYROLL_ADMIN)

    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_the_only_active_admin_cannot_be_deactivated(admin):
    with pytest.raises(ValidationError):
        services.member_set_active(actor=admin, membership=admin, active=False)

    admin.refresh_from_db()
    assert admin.is_active


def test_an_admin_can_step_down_when_another_active_admin_remains(admin, member):
    member(Role.ADMIN)

    services.member_change_role(actor=admin, membership=admin, role=Role.VIEWER)

    admin.refresh_from_db()
    assert admin.role == Role.VIEWER


def test_a_member_can_be_deactivated_and_reactivated(admin, member):
    viewer = member(Role.VIEWER)

    services.member_set_active(actor=admin, membership=viewer, active=False)
    viewer.refresh_from_db()
    assert not viewer.is_active

    services.member_set_active(actor=admin, membership=viewer, active=True)
    viewer.refresh_from_db()
    assert viewer.is_active


def test_projects_of_another_organization_cannot_be_assigned(admin, member):
    manager = member(Role.VIEWER)
    foreign = factories.ProjectFactory()

    with pytest.raises(PermissionDenied):
        services.member_change_role(
            actor=admin, membership=manager, role=Role.PROJECT_MANAGER, assigned_projects=[foreign]
        )

    assert not manager.assigned_projects.exists()


def test_an_admin_cannot_change_a_member_of_another_organization(admin):
    foreign = factories.MembershipFactory(role=Role.VIEWER)

    with pytest.raises(PermissionDenied):
        services.member_change_role(actor=admin, membership=foreign, role=Role.ADMIN)

    foreign.refresh_from_db()
    assert foreign.role == Role.VIEWER


# --- Admins only ----------------------------------------------------------------------------

NON_ADMIN_ROLES = [Role.PAYROLL_ADMIN, Role.PROJECT_MANAGER, Role.VIEWER]


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_a_non_admin_cannot_invite(member, role):
    with pytest.raises(PermissionDenied):
        invite(member(role), "x@example.com", Role.ADMIN)

    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_a_non_admin_cannot_revoke_an_invitation(admin, member, role):
    issued = invite(admin)

    with pytest.raises(PermissionDenied):
        services.invitation_revoke(actor=member(role), invitation=issued.invitation)

    assert services.invitation_for_token(token=issued.token) is not None


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_a_non_admin_cannot_change_roles(member, role):
    actor = member(role)

    with pytest.raises(PermissionDenied):
        services.member_change_role(actor=actor, membership=actor, role=Role.ADMIN)

    actor.refresh_from_db()
    assert actor.role == role


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_a_non_admin_cannot_deactivate_members(admin, member, role):
    with pytest.raises(PermissionDenied):
        services.member_set_active(actor=member(role), membership=admin, active=False)

    admin.refresh_from_db()
    assert admin.is_active


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_a_non_admin_cannot_change_organization_settings(member, organization, role):
    with pytest.raises(PermissionDenied):
        services.organization_update(actor=member(role), name="Taken Over", time_zone="UTC")

    organization.refresh_from_db()
    assert organization.name != "Taken Over"
