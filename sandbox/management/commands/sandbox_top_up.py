"""Add credits to the sandbox account the portal uses (XOXZO_SID)."""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox import accounts


class Command(BaseCommand):
    help = "Top up the sandbox account's balance (credits)."

    def add_arguments(self, parser):
        parser.add_argument("amount", help="credits to add, e.g. 10000")

    def handle(self, *args, amount, **options):
        try:
            credits = Decimal(amount)
        except InvalidOperation:
            raise CommandError("The amount must be a number.") from None
        if credits <= 0:
            raise CommandError("The amount must be positive.")
        account = accounts.sandbox_account_get_or_create(sid=settings.XOXZO_SID)
        entry = accounts.sandbox_account_top_up(account=account, amount=credits)
        self.stdout.write(f"Balance of {account.sid}: {entry.balance_after} credits.")
