"""The library of a company's call flows: MP3s, TTS scripts, caller lists."""

from __future__ import annotations

from ninja import Router

from api import schemas
from api.v1.common import ERRORS
from callflows.assets import selectors as asset_selectors

router = Router(tags=["assets"])


@router.get("", response={200: schemas.Assets, **ERRORS}, url_name="api_asset_list")
def asset_list(request):
    """The library: MP3s, TTS scripts and caller lists, with the live numbers using each."""

    def users(row) -> list:
        return [s.code for s in row.used_by]

    return {
        "audio": [
            {
                "code": row.asset.code,
                "label": row.asset.label,
                "duration_seconds": row.asset.duration_seconds,
                "size_bytes": row.asset.size_bytes,
                "used_by": users(row),
            }
            for row in asset_selectors.audio_list()
        ],
        "scripts": [
            {
                "code": row.asset.code,
                "name": row.asset.name,
                "language": row.asset.language,
                "text": row.asset.text,
                "used_by": users(row),
            }
            for row in asset_selectors.script_list()
        ],
        "caller_lists": [
            {
                "code": row.asset.code,
                "name": row.asset.name,
                "count": len(row.asset.numbers),
                "used_by": users(row),
            }
            for row in asset_selectors.caller_list_list()
        ],
    }
