"""Factories for the domain. Shifts get their derived fields from the real time rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory

from timesync import crypto, time_rules
from timesync.models import (
    CostCode,
    Integration,
    IntegrationKind,
    Membership,
    Organization,
    Project,
    ProjectLink,
    Role,
    Shift,
    User,
    Worker,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Builders {n}")
    slug = factory.Sequence(lambda n: f"builders-{n}")
    time_zone = "America/Toronto"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ADMIN


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Tower {n}")
    code = factory.Sequence(lambda n: f"24-{100 + n}")


class WorkerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Worker

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Faker("name")
    employee_number = factory.Sequence(lambda n: f"E{1000 + n}")
    email = factory.Sequence(lambda n: f"worker{n}@example.com")


class CostCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CostCode

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"03.{100 + n}")
    name = "Concrete Formwork"


class ShiftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shift

    organization = factory.SubFactory(OrganizationFactory)
    project = factory.SubFactory(
        ProjectFactory, organization=factory.SelfAttribute("..organization")
    )
    worker = factory.SubFactory(WorkerFactory, organization=factory.SelfAttribute("..organization"))
    start = factory.Sequence(lambda n: datetime(2026, 6, 1, 11, tzinfo=UTC) + timedelta(days=n))
    end = factory.LazyAttribute(lambda shift: shift.start + timedelta(hours=8, minutes=30))
    break_minutes = 30

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        shift = model_class(*args, **kwargs)
        shift.work_date = time_rules.work_date(shift.start, shift.project.effective_time_zone)
        if shift.end is not None:
            shift.paid_seconds = time_rules.paid_seconds(shift.start, shift.end,
                                                         shift.break_minutes)
        shift.save()
        return shift


class ProcoreIntegrationFactory(factory.django.DjangoModelFactory):
    """A Procore integration held in our database only (pages that never call Procore); its
    app's credentials stored as connecting leaves them. `reconnect_reason` for one whose
    grant Procore stopped honouring."""

    class Meta:
        model = Integration

    organization = factory.SubFactory(OrganizationFactory)
    kind = IntegrationKind.PROCORE
    name = "Procore"
    settings = factory.LazyFunction(lambda: {
        "api_base_url": "https://procore.example", "login_base_url": "https://procore.example",
        "company_id": 4200000001, "grant": "client_credentials"})
    credentials_encrypted = factory.LazyFunction(lambda: crypto.encrypt_json(
        {"client_id": "timesync-app", "client_secret": "app-secret"}))
    is_connected = True


class ProjectLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectLink

    integration = factory.SubFactory(ProcoreIntegrationFactory)
    organization = factory.SelfAttribute("integration.organization")
    project = factory.SubFactory(ProjectFactory,
                                 organization=factory.SelfAttribute("..organization"))
    remote_project_id = factory.Sequence(lambda n: str(7_100_000_001 + n))
