"""E-mails about a tenant's numbers, to its owners and admins, each in their own language."""

from dins.models import Subscription
from dins.selectors import notification_recipients
from portal.emails import send_templated

TEMPLATES = {
    "reminder": "emails/trial_reminder",
    "released": "emails/trial_released",
    "overdue": "emails/trial_overdue",
}


def number_email_send(*, subscription_id: int, kind: str, minutes_before: int | None) -> int:
    subscription = Subscription.objects.select_related("tenant").filter(pk=subscription_id).first()
    if subscription is None:
        return 0
    sent = 0
    for email, language in notification_recipients():
        send_templated(
            template=TEMPLATES[kind],
            to=[email],
            language=language,
            context={
                "subscription": subscription,
                "tenant": subscription.tenant,
                "hours_before": (minutes_before or 0) // 60,
                "minutes_before": minutes_before or 0,
                "saved": subscription.monthly_cost - subscription.trial_price,
            },
        )
        sent += 1
    return sent
