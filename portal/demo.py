"""The demo data `make run` seeds: two companies, their people and a platform operator.

Idempotent: running it again changes nothing that exists (passwords included).
"""

from dataclasses import dataclass

from django.db import transaction

from portal.models import Language, Membership, Role, Tenant, User
from portal.scoping import tenant_scope
from portal.services import audit_record

DEMO_PASSWORD = "din-demo-2026"  # noqa: S105 (published in README for the demo)
OPERATOR_EMAIL = "operator@example.com"


@dataclass(frozen=True)
class DemoPerson:
    email: str
    name: str
    role: str
    language: str


DEMO_TENANTS = {
    ("さくら歯科クリニック", Language.JAPANESE): [
        DemoPerson("owner@sakura.example.com", "佐藤 花子", Role.OWNER, Language.JAPANESE),
        DemoPerson("staff@sakura.example.com", "鈴木 一郎", Role.STAFF, Language.JAPANESE),
    ],
    ("Harbor Logistics", Language.ENGLISH): [
        DemoPerson("owner@harbor.example.com", "Emma Clark", Role.OWNER, Language.ENGLISH),
        DemoPerson("staff@harbor.example.com", "Ken Tanaka", Role.STAFF, Language.ENGLISH),
    ],
}


def _user(email: str, name: str, language: str, **extra) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email, password=DEMO_PASSWORD, first_name=name, language=language, **extra
        )
    return user


@transaction.atomic
def demo_seed() -> list[tuple[str, str, str]]:
    """Create what is missing; answer (tenant, e-mail, role) for every demo login."""
    logins = []
    for (tenant_name, language), people in DEMO_TENANTS.items():
        tenant, _created = Tenant.objects.get_or_create(
            name=tenant_name, defaults={"language": language, "timezone": "Asia/Tokyo"}
        )
        with tenant_scope(tenant):
            for person in people:
                user = _user(person.email, person.name, person.language)
                membership, created = Membership.objects.get_or_create(
                    tenant=tenant, user=user, defaults={"role": person.role}
                )
                if created:
                    audit_record(
                        action="membership.create", obj=membership, after={"role": person.role}
                    )
                logins.append((tenant.name, person.email, membership.role))
    operator = _user(OPERATOR_EMAIL, "Platform Operator", Language.ENGLISH)
    if not operator.is_superuser:
        operator.is_staff = operator.is_superuser = True
        operator.save(update_fields=["is_staff", "is_superuser"])
    logins.append(("Django admin", OPERATOR_EMAIL, "superuser"))
    return logins
