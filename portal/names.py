"""Names people give things, compared as people read them.

Full-width "VIP" (from a Japanese input method), "vip" and "VIP " are one name to a
person choosing from a list; two caller lists called that would be two identical entries in
the call-flow editor. ``name_key`` is what uniqueness is checked on (a column of its own with
a unique constraint per company, beside the name as typed).
"""

from __future__ import annotations

import unicodedata

# NFKC can lengthen a name ("㍿" is four characters once normalised): room for that.
NAME_KEY_MAX_LENGTH = 400


def name_key(name: str) -> str:
    """``name`` with widths unified (NFKC), case folded and spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name or "").casefold().split())[
        :NAME_KEY_MAX_LENGTH
    ]
