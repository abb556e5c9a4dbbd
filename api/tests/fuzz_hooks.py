"""Schemathesis hooks of the API fuzzer (``api/tests/test_fuzz.py``, loaded through
``SCHEMATHESIS_HOOKS``): hostile strings put into generated JSON bodies.

The generators draw strings a schema allows (positive) or breaks (negative); they never draw
the strings that broke the API before: a lone UTF-16 surrogate, NUL, control and direction
characters, dates no UTC holds, huge numbers. Here one string or key of a generated body is
sometimes replaced by one of those, so every operation meets them.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

HOSTILE = [
    "\x00",
    "a\x00b",
    "x\udfffy",
    "\ud800",
    "\ud83d\ude00",
    "\x07\x1b[2J",
    "\u202etxt.exe",
    "\x85\u2028\u2029",
    "\ufeff",
    "'; DROP TABLE portal_tenant; --",
    "{{ settings.SECRET_KEY }}",
    "../../../../etc/passwd",
    "=cmd|' /C calc'!A0",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "2026-02-30T25:61:00Z",
    "1e309",
    "-" + "9" * 400,
    "x" * 70_000,
    "\\u0000",
    "http://127.0.0.1\\@1.1.1.1/",
]


def _paths(value, path=()):
    """Every string leaf and key of a JSON value, as (path, is_key)."""
    if isinstance(value, str):
        yield path, False
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), True
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _replace(value, path, is_key, hostile):
    if not path:
        return hostile
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        if is_key and not rest:
            return {(hostile if key == head else key): item for key, item in value.items()}
        return {
            key: (_replace(item, rest, is_key, hostile) if key == head else item)
            for key, item in value.items()
        }
    copy = list(value)
    copy[head] = _replace(copy[head], rest, is_key, hostile)
    return copy


# Multipart uploads carry bytes and form fields, which cannot hold a lone surrogate at all.
FORM_OPERATIONS = ("/assets/audio",)


@schemathesis.hook
def flatmap_body(context, body):
    operation = getattr(context, "operation", None)
    if operation is not None and str(operation.path).endswith(FORM_OPERATIONS):
        return st.just(body)
    places = list(_paths(body)) if isinstance(body, (dict, list, str)) else []
    if not places:
        return st.just(body)
    hostile = st.tuples(st.sampled_from(places), st.sampled_from(HOSTILE)).map(
        lambda chosen: _replace(body, chosen[0][0], chosen[0][1], chosen[1])
    )
    # Half the bodies as generated, half with one hostile string in them.
    return st.one_of(st.just(body), hostile)
