"""E-mails the portal sends, each from a subject/text/html template triplet."""

import smtplib

from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from portal.addresses import people_url
from portal.models import Invitation

# What a retry may cure: the mail server busy, down or unreachable for a moment.
TRANSIENT_MAIL_ERRORS = (smtplib.SMTPException, ConnectionError, TimeoutError, OSError)


def send_templated(*, template: str, to: list[str], language: str, context: dict) -> None:
    """Render ``templates/<template>_{subject.txt,body.txt,body.html}`` in ``language``."""
    with translation.override(language):
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        text = render_to_string(f"{template}_body.txt", context)
        html = render_to_string(f"{template}_body.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=to)
    message.attach_alternative(html, "text/html")
    message.send()


def invitation_send(*, invitation_id: int, accept_url: str) -> bool:
    """Send the invitation link; an invitation revoked or accepted meanwhile sends nothing."""
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by").filter(pk=invitation_id).first()
    )
    if invitation is None or not invitation.is_open:
        return False
    send_templated(
        template="emails/invitation",
        to=[invitation.email],
        language=invitation.tenant.language,
        context={"invitation": invitation, "accept_url": accept_url},
    )
    return True


def password_reset_send(*, email: str) -> int:
    """Mail a reset link to each active account with this address (none: nothing is sent).

    Runs in a worker (``portal.send_password_reset``), never in the request: the page answers
    the same, in the same time, whether the address has an account or not.
    """
    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return 0
    sent = 0
    for user in form.get_users(form.cleaned_data["email"]):
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        context = {
            "email": user.email,
            "user": user,
            "reset_url": people_url("password_reset_confirm", uid, token),
        }
        with translation.override(user.language):
            form.send_mail(
                "registration/password_reset_subject.txt",
                "registration/password_reset_email.txt",
                context,
                None,
                user.email,
                html_email_template_name="registration/password_reset_email.html",
            )
        sent += 1
    return sent
