import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.urls import reverse

from portal.models import AuditEvent, Invitation, Membership, Role, User
from portal.scoping import scopes_disabled, tenant_scope


@pytest.fixture
def invite(client, django_capture_on_commit_callbacks, task_queue):
    """Post the invitation form, then run the e-mail task it enqueued after commit."""

    def post(email="new.person@example.com", role="staff"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("member_invite"), {"email": email, "role": role})
        task_queue.run_all()
        return response

    return post


def _link_from_last_mail() -> str:
    # on the people's address, whatever host the inviting request came in on
    base = re.escape(settings.PORTAL_BASE_URL)
    return re.search(rf"{base}(/account/invite/[^/\s]+/)", mail.outbox[-1].body)[1]


def test_it_invites_by_email_and_the_link_creates_the_account(client, personas, invite):
    # given an admin of A invites a new address
    client.force_login(personas.admin_a)
    response = invite()
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["new.person@example.com"]
    assert "Alpha Clinic" in mail.outbox[-1].subject
    link = _link_from_last_mail()

    # when the invitee opens the link and chooses a password
    client.logout()
    page = client.get(link)
    assert page.status_code == 200
    response = client.post(
        link,
        {
            "name": "New Person",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )

    # then they are a staff member of A, signed in, and the link is spent
    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.com")
    assert personas.membership(user, personas.tenant_a).role == Role.STAFF
    assert client.get(reverse("dashboard")).status_code == 200
    client.logout()
    assert client.get(link).status_code == 404
    with tenant_scope(personas.tenant_a):
        actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "invitation.create" in actions and "invitation.accept" in actions


def test_it_refuses_a_weak_password_on_the_invitation_and_keeps_the_invitation(
    client, personas, invite
):
    client.force_login(personas.owner_a)
    invite()
    link = _link_from_last_mail()
    client.logout()
    response = client.post(link, {"name": "X", "password1": "123", "password2": "123"})
    assert response.status_code == 200
    assert "error" in response.content.decode()
    assert not User.objects.filter(email="new.person@example.com").exists()
    assert client.get(link).status_code == 200


def test_it_lets_an_existing_user_join_after_signing_in(client, personas, invite):
    client.force_login(personas.owner_b)
    invite(email="staff.a@example.com", role="viewer")
    link = _link_from_last_mail()
    client.logout()
    assert client.get(link)["Location"].startswith(reverse("login"))
    client.force_login(personas.staff_a)
    assert client.post(link).status_code == 302
    assert personas.membership(personas.staff_a, personas.tenant_b).role == Role.VIEWER


def test_it_refuses_an_invitation_opened_by_another_signed_in_user(client, personas, invite):
    client.force_login(personas.owner_a)
    invite()
    link = _link_from_last_mail()
    client.force_login(personas.owner_b)
    assert client.post(link).status_code == 403
    assert not User.objects.filter(email="new.person@example.com").exists()


def test_it_expires_invitations(client, personas, invite):
    client.force_login(personas.owner_a)
    invite()
    link = _link_from_last_mail()
    client.logout()
    with time_machine.travel(timedelta(days=8)):
        assert client.get(link).status_code == 404


def test_it_refuses_to_invite_an_existing_member(client, personas, invite):
    client.force_login(personas.owner_a)
    response = invite(email="STAFF.A@example.com")
    assert response.status_code == 400
    assert "already a member" in response.content.decode()
    assert mail.outbox == []


def test_it_does_not_let_an_admin_invite_an_owner(client, personas, invite):
    client.force_login(personas.admin_a)
    response = invite(role="owner")
    assert response.status_code == 400
    with scopes_disabled():
        assert not Invitation.objects.exists()


def test_it_revokes_an_invitation(client, personas, invite):
    client.force_login(personas.owner_a)
    invite()
    link = _link_from_last_mail()
    with scopes_disabled():
        invitation = Invitation.objects.get()
    client.post(reverse("invitation_revoke", args=[invitation.code]))
    client.logout()
    assert client.get(link).status_code == 404


def test_it_changes_a_role_and_records_before_and_after(client, personas):
    client.force_login(personas.admin_a)
    staff = personas.membership(personas.staff_a, personas.tenant_a)
    client.post(reverse("member_role", args=[staff.code]), {"role": "admin"})
    staff.refresh_from_db()
    assert staff.role == Role.ADMIN
    with tenant_scope(personas.tenant_a):
        event = AuditEvent.objects.get(action="membership.role_change")
    assert (event.before, event.after, event.actor) == (
        {"role": "staff"},
        {"role": "admin"},
        personas.admin_a,
    )
    assert event.ip_address == "127.0.0.1"


@pytest.mark.parametrize("action", ["demote", "remove"])
def test_it_keeps_the_last_owner(client, personas, action):
    client.force_login(personas.owner_a)
    owner = personas.membership(personas.owner_a, personas.tenant_a)
    if action == "demote":
        response = client.post(
            reverse("member_role", args=[owner.code]), {"role": "admin"}, follow=True
        )
    else:
        response = client.post(reverse("member_remove", args=[owner.code]), follow=True)
    assert "last owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_it_lets_an_owner_step_down_once_there_is_another_owner(client, personas):
    client.force_login(personas.owner_a)
    admin = personas.membership(personas.admin_a, personas.tenant_a)
    client.post(reverse("member_role", args=[admin.code]), {"role": "owner"})
    owner = personas.membership(personas.owner_a, personas.tenant_a)
    client.post(reverse("member_role", args=[owner.code]), {"role": "staff"})
    owner.refresh_from_db()
    assert owner.role == Role.STAFF


def test_it_does_not_let_an_admin_touch_an_owner(client, personas):
    client.force_login(personas.admin_a)
    owner = personas.membership(personas.owner_a, personas.tenant_a)
    client.post(reverse("member_remove", args=[owner.code]))
    client.post(reverse("member_role", args=[owner.code]), {"role": "viewer"})
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_it_removes_a_member_after_confirmation(client, personas):
    client.force_login(personas.owner_a)
    staff = personas.membership(personas.staff_a, personas.tenant_a)
    page = client.get(reverse("member_remove", args=[staff.code]))
    assert page.status_code == 200
    assert "staff.a@example.com" in page.content.decode()
    client.post(reverse("member_remove", args=[staff.code]))
    with scopes_disabled():
        assert not Membership.objects.filter(pk=staff.pk).exists()
    client.force_login(personas.staff_a)
    assert client.get(reverse("dashboard"))["Location"] == reverse("no_tenant")


def test_it_lists_members_with_a_fixed_number_of_queries(
    client, personas, django_assert_max_num_queries
):
    client.force_login(personas.owner_a)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("members"))
    assert response.status_code == 200
    assert response.content.decode().count("data-member=") == 5


def test_it_shows_a_viewer_the_members_without_controls(client, personas):
    client.force_login(personas.viewer_a)
    page = client.get(reverse("members")).content.decode()
    assert "owner.a@example.com" in page
    assert reverse("member_invite") not in page


def test_it_keeps_at_most_fifty_invitations_open(client, personas, invite):
    from portal.services import MAX_OPEN_INVITATIONS
    from testing.scaffolding import InvitationFactory

    for index in range(MAX_OPEN_INVITATIONS):
        InvitationFactory(tenant=personas.tenant_a, email=f"open{index}@example.com")
    client.force_login(personas.admin_a)
    mail.outbox.clear()

    response = invite(email="one.more@example.com")

    assert response.status_code == 400
    assert "50 invitations are still open" in response.content.decode()
    assert mail.outbox == []
    with scopes_disabled():
        assert not Invitation.objects.filter(email="one.more@example.com").exists()
    # inviting an address again replaces its invitation, which the limit allows
    assert invite(email="open0@example.com").status_code == 302
