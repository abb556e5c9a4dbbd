"""Building a call flow as staff do, in real Chromium, down to a test call and the call log."""

from pathlib import Path

import pytest

from callflows.edge import call_log
from portal.phone import display

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLE = Path(__file__).resolve().parents[2] / "sandbox" / "tests" / "data" / "greeting-en.mp3"


def test_it_uploads_writes_builds_previews_test_calls_and_logs(
    page, personas, sign_in, client, sandbox_url, settings, live_server, task_queue, xoxzo
):
    from dins.tests.test_lifecycle import _free_din, _subscribe

    client.force_login(personas.owner_a)
    number = _subscribe(client, task_queue, _free_din(xoxzo).din_uid, trial=False)
    sign_in("owner.a@example.com")

    # upload an MP3: the worker converts it, the page plays it, then it is saved
    page.goto("/callflows/audio/upload/")
    page.fill("input[name=label]", "Welcome jingle")
    page.set_input_files("input[name=file]", str(SAMPLE))
    page.click("main button[type=submit].primary")
    page.wait_for_selector("[data-upload-status=queued]")
    assert task_queue.run_all_named("callflows.audio_convert") == 1
    page.wait_for_selector("[data-upload-status=ready]")
    page.click("text=Save as a greeting")
    page.wait_for_selector("text=“Welcome jingle” saved.")

    # write a script
    page.goto("/callflows/scripts/new/")
    page.fill("input[name=name]", "After hours")
    page.select_option("select[name=language]", "en")
    page.fill("textarea[name=text]", "We are closed.\nPlease leave a message.")
    page.click("main button[type=submit].primary")
    page.wait_for_selector("text=After hours")

    # build a flow: business hours play the MP3, otherwise voicemail after the script
    page.goto(f"/numbers/{number.code}/flow/")
    page.click("text=Add a rule")
    page.fill("input[name=rules-0-label]", "Business hours")
    page.select_option("select[name=rules-0-when]", "hours")
    for day in range(5):
        page.check(f"input[name=rules-0-weekdays][value='{day}']")
    page.fill("input[name=rules-0-start]", "09:00")
    page.fill("input[name=rules-0-end]", "18:00")
    page.select_option("select[name=rules-0-action]", "playback")
    page.select_option("select[name=rules-0-audio]", label="Welcome jingle")
    page.select_option("select[name=default-action]", "voicemail")
    page.select_option("select[name=default-greeting]", label="Script: After hours")
    page.click("text=Save call flow")
    page.wait_for_selector("text=Call flow saved")
    assert "Business hours" in page.inner_text(".in-effect")

    # what will a caller hear on Saturday at 10:00? (outside the hours)
    page.fill("input[name=preview-at]", "2026-11-28T10:00")
    page.fill("input[name=preview-caller]", "090-1234-5678")
    page.click("button:has-text('Preview')")
    assert page.inner_text("[data-preview-rule]") == "Otherwise (default)"
    assert page.inner_text("[data-preview-words]") == (
        "Read “After hours” aloud, then take a voicemail"
    )
    assert page.text_content("[data-preview-command]") == (
        'voicemail say en "We are closed. Please leave a message."'
    )

    # run a test call through the sandbox carrier and read its transcript
    page.click("button:has-text('Place a test call')")
    page.wait_for_selector("[data-test-call-status=queued]")
    assert task_queue.run_all_named("dins.test_call") == 1  # what the worker does
    page.wait_for_selector("[data-test-call-status=done]")
    outcome = page.get_attribute("[data-test-call-outcome]", "data-test-call-outcome")
    assert outcome in ("completed", "voicemail")

    # and see it in the call log
    call_log.call_log_buffer.flush()
    page.click("nav.mainnav >> text=Calls")
    assert display(number.e164) in page.inner_text("main")
