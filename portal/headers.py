"""Security headers of the answers the carrier fetches: the action URL and public MP3s.

Both are served by the edge without middleware (``config/wsgi/edge.py``), so nothing else adds
headers to them, and both are public: anyone with the link can open it in a browser. They
must never be rendered as a page, whatever bytes they hold: ``nosniff`` keeps a browser to
the declared type (audio/mpeg, text/plain) and the policy allows nothing to run or load.
"""

CARRIER_RESPONSE_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox"),
    ("Referrer-Policy", "no-referrer"),
)


def with_carrier_headers(response):
    """``response`` with ``CARRIER_RESPONSE_HEADERS`` set (a Django response)."""
    for name, value in CARRIER_RESPONSE_HEADERS:
        response[name] = value
    return response
