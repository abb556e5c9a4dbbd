"""Money shown before it is spent: the same prices on the offer, the confirmations and costs."""

import re

import pytest
from django.urls import reverse

from dins.models import Subscription
from portal.phone import display
from portal.scoping import scopes_disabled

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner(client, personas, sandbox_url, settings, live_server):
    client.force_login(personas.owner_a)
    return client


def _row(page: str, din: str) -> str:
    return page.split(f'data-din="{din}"')[1].split("</tr>")[0]


def test_it_shows_the_price_before_subscribing_and_nothing_is_bought_on_the_way(
    owner, personas, xoxzo, task_queue
):
    offer = xoxzo.search_dins(country="JP", prefix="8150")[0]
    search = owner.get(reverse("number_search"), {"kind": "jp-050"}).content.decode()
    row = _row(search, offer.din)
    assert "650 credits" in row and "32.5 credits" in row  # monthly and 24-hour prices

    # the offer's buttons open a confirmation that says what is charged, then nothing happens
    page = owner.get(reverse("number_subscribe"), {"din_uid": offer.din_uid, "mode": "trial"})
    body = page.content.decode()
    assert page.status_code == 200
    assert f"Try {display('+' + offer.din)} for 24 hours?" in body
    for amount in ("650 credits", "617.5 credits", "32.5 credits"):  # now, back, the trial
        assert amount in body
    keep = owner.get(reverse("number_subscribe"), {"din_uid": offer.din_uid, "mode": "keep"})
    assert "650 credits every 30 days until you release it" in keep.content.decode()
    with scopes_disabled():
        assert not Subscription.objects.exists()
    assert task_queue.names() == []

    # confirming subscribes
    response = owner.post(reverse("number_subscribe"), {"din_uid": offer.din_uid, "mode": "trial"})
    assert response.status_code == 302
    task_queue.run_all()

    # keeping the trial says the month's price first, and keeps nothing on the way
    with scopes_disabled():
        subscription = Subscription.objects.get(din_uid=offer.din_uid)
    confirm = owner.get(reverse("number_keep", args=[subscription.code])).content.decode()
    assert re.search(r'data-price="month"><strong>650 credits</strong>', confirm)
    subscription.refresh_from_db()
    assert subscription.is_trial

    # and the costs page counts it at its 24-hour price while it is a trial
    costs = owner.get(reverse("costs")).content.decode()
    assert '<p class="big" data-figure="total">32.5 credits</p>' in costs


def test_it_says_why_staff_cannot_subscribe_instead_of_hiding_it(
    client, personas, sandbox_url, settings, live_server
):
    client.force_login(personas.staff_a)
    page = client.get(reverse("number_search"), {"kind": "jp-050"}).content.decode()
    assert "Subscribing needs the admin role: ask an owner or admin." in page
    assert '<button type="button" class="small" disabled>Try for 24 hours</button>' in page
