"""E-mails the portal sends, each from a subject/text/html template triplet."""

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from portal.models import Invitation


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
