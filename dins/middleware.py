"""Middleware of the numbers app: how long a page may wait for the carrier."""

from django.conf import settings

from dins import xoxzo


class CarrierBudgetMiddleware:
    """A page waits for the carrier a few seconds at most (``XOXZO_PAGE_BUDGET_SECONDS``).

    Number search and subscribe ask the carrier while the person waits; whatever the carrier
    does, this thread is free again within the budget and the page says the carrier did not
    answer. Anything that may take longer is a task the page follows live.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with xoxzo.page_budget(settings.XOXZO_PAGE_BUDGET_SECONDS):
            return self.get_response(request)
