"""Counters every process shares: how many requests one API key made this minute.

With Redis (``REDIS_URL``, production) a count is the cache's ``incr``, atomic in Redis.
The embedded default has no server to share memory: its cache is per process, and Django's
file and database caches count by read-then-write, losing increments between processes (on
``make run`` 214 of 400 requests passed a limit of 120). There a count is one row of
``RateCounter``, incremented by one ``UPDATE … SET count = count + 1`` in a transaction that
then reads it back: SQLite serialises such transactions, PostgreSQL locks the row, so each
process sees its own increment and no other's in between.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from portal.models import RateCounter


def counter_increment(name: str, *, lifetime_seconds: int) -> int:
    """Add one to the counter ``name`` (created at 0, gone after ``lifetime_seconds``) and
    return its new value, counted across every process. Raises when the store is away."""
    if settings.REDIS_URL:
        cache.add(name, 0, timeout=lifetime_seconds)
        return cache.incr(name)
    now = timezone.now()
    with transaction.atomic():
        if not RateCounter.objects.filter(name=name).update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    expires_at = now + datetime.timedelta(seconds=lifetime_seconds)
                    RateCounter.objects.create(name=name, count=1, expires_at=expires_at)
            except IntegrityError:  # another process created it first
                RateCounter.objects.filter(name=name).update(count=F("count") + 1)
            else:
                # A new window: yesterday's rows go (one indexed delete, once a window).
                RateCounter.objects.filter(expires_at__lt=now).delete()
        return RateCounter.objects.filter(name=name).values_list("count", flat=True).get()
