"""A property-based fuzzer over the API's OpenAPI document, in CI: Schemathesis, every check
it has, generated bodies with hostile strings (``api/tests/fuzz_hooks.py``), over real HTTP
against the portal's live server with real objects behind every ``{…_code}``.

It runs Schemathesis's own command (``st run``) against ``/api/v1/openapi.json``: the examples,
coverage and fuzzing phases, positive and negative data, ``--checks all``. A case count and
no failure is the pass; the summary line is printed (``FUZZ_MAX_EXAMPLES`` per operation,
default 40, bounds it to a few minutes on two cores).

What "positive data acceptance" may answer besides 2xx: the schema states shapes, not the
company's state or the portal's rules, so a well-formed request can still be refused in the
documented way: 404 (an object of another kind's code), 409 (a trial too late to keep, a
released number), 422 (an MP3 code that names nothing, a date after 2099, a number the
destination policy refuses), 503 (the carrier, down here on purpose).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from api.tests.factories import make_key
from portal.tests.companies import japanese_clinic

RESULT: dict[str, str] = {}  # printed at the end of the run (conftest.py)
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "40"))
CARRIER_OPERATIONS = ["api_v1_offer_list", "api_v1_number_subscribe"]
ACCEPTED_FOR_VALID_DATA = ["2xx", "401", "403", "404", "409", "422", "429", "503"]


def _config(path: Path, objects: dict) -> None:
    parameters = {
        "subscription_code": str(objects["subscription"].code),
        "outboundcall_code": str(objects["outboundcall"].code),
        "alert_code": str(objects["alert"].code),
    }
    lines = [
        "[generation]",
        "allow-x00 = true",
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps(ACCEPTED_FOR_VALID_DATA)}",
        "[parameters]",
        *(f'"path.{name}" = "{value}"' for name, value in parameters.items()),
        # The routes that ask the carrier answer 503 with a code when it is down (documented);
        # anywhere else, and any other 5xx there, a server error fails the run.
        *(
            line
            for operation in CARRIER_OPERATIONS
            for line in (
                "[[operations]]",
                f'include-operation-id = "{operation}"',
                "[operations.checks.not_a_server_error]",
                'expected-statuses = ["2xx", "3xx", "4xx", "503"]',
            )
        ),
    ]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.django_db(transaction=True)
def test_the_fuzzer_finds_no_failure_in_any_operation_under_every_check(
    live_server, personas, settings, tmp_path, monkeypatch
):
    from dins import xoxzo
    from dins.xoxzo import client as xoxzo_client

    if shutil.which("st", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("schemathesis is not installed (requirements-dev.txt)")
    # given a company with something behind every code, a key that may do everything, and the
    # carrier down (its answers are 503s the API documents)
    objects = japanese_clinic(personas)
    _key, token = make_key(personas.tenant_a, role="admin")
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    settings.XOXZO_API_URL = "http://127.0.0.1:9/sandbox"
    monkeypatch.setattr(xoxzo_client, "MAX_ATTEMPTS", 1)
    xoxzo.close_client()
    config = tmp_path / "schemathesis.toml"
    _config(config, objects)
    report = tmp_path / "report.json"

    # when Schemathesis runs every phase and check against the live server
    result = subprocess.run(  # noqa: S603 - Schemathesis's command from this environment
        [
            str(Path(sys.executable).parent / "st"),
            "--config-file",
            str(config),
            "run",
            f"{live_server.url}/api/v1/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--workers",
            "1",
            "--seed",
            os.environ.get("FUZZ_SEED", "19"),
            "--header",
            f"Authorization: Bearer {token}",
            "--request-timeout",
            "30",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        # Run from the test's folder: Schemathesis keeps its cache where it runs.
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "api.tests.fuzz_hooks",
            "PYTHONPATH": str(settings.BASE_DIR),
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    xoxzo.close_client()

    # then every case passed every check
    lines = result.stdout.splitlines()
    counted = [lines[i + 1].strip() for i, line in enumerate(lines[:-1]) if "Test cases:" in line]
    RESULT["cases"] = counted[-1] if counted else "no count printed"
    RESULT["operations"] = next((ln.strip() for ln in lines if "Tested:" in ln), "")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
