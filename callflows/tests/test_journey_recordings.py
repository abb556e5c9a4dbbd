"""An owner's greetings from their own recordings, in real Chromium on a 390x844 phone, in
Japanese: an iPhone voice memo (.m4a, AAC) uploaded, a greeting recorded in the browser
(MediaRecorder, Opus in .webm, from Chromium's fake microphone), both heard on the page, used
in the number's flow, and played by test calls: the sandbox carrier fetches each MP3 from the
edge and its own inspector accepts it.

The voice memo is made here by PyAV (``callflows/tests/recordings.py``); the browser makes the
other. The worker's conversions and test calls run in this thread, as a worker would run them.
"""

import pytest

from callflows.models import AudioFile, AudioUpload
from callflows.tests.recordings import recording
from dins.models import TestCall
from portal.models import User
from portal.scoping import scopes_disabled
from testing.scaffolding import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
# Chromium's fake microphone (a beep a second) granted without asking; players may start
# without a tap, so the test can ask the page's <audio> to play.
MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def chromium_with_microphone(chromium):
    """The suite's Chromium program again, with a fake microphone."""
    from conftest import CHROMIUM, CHROMIUM_ARGS

    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *MEDIA_ARGS]
    )
    yield browser
    browser.close()


def _hear(page) -> dict:
    """Play the page's converted greeting: what the browser decoded of it."""
    return page.evaluate(
        """async () => {
            const audio = document.querySelector("audio[data-converted]");
            if (audio.readyState < 1) {
                await new Promise((ok, failed) => {
                    audio.addEventListener("loadedmetadata", ok, { once: true });
                    audio.addEventListener("error", failed, { once: true });
                    audio.load();
                });
            }
            await audio.play();
            audio.pause();
            const after = document.querySelector("[data-length-after]").dataset.lengthAfter;
            return { duration: audio.duration, error: audio.error && audio.error.code,
                     after: Number(after) };
        }"""
    )


def _convert_and_save(page, task_queue) -> dict:
    page.wait_for_selector("[data-upload-status=queued]")
    assert task_queue.run_all_named("callflows.audio_convert") == 1  # what the worker does
    page.wait_for_selector("[data-upload-status=ready]")
    assert "変換しました" in page.inner_text("#upload-status")
    heard = _hear(page)
    page.click("main button:has-text('音声として保存')")
    page.wait_for_selector("text=保存しました")
    return heard


def test_an_owner_makes_greetings_from_a_voice_memo_and_a_browser_recording(
    chromium_with_microphone, live_server, client, personas, sandbox_url, task_queue, xoxzo
):
    from dins.tests.test_lifecycle import _free_din, _subscribe

    client.force_login(personas.owner_a)
    number = _subscribe(client, task_queue, _free_din(xoxzo).din_uid, trial=False)
    User.objects.filter(pk=personas.owner_a.pk).update(language="ja")
    context = chromium_with_microphone.new_context(
        base_url=live_server.url, viewport=PHONE, locale="ja-JP"
    )
    context.grant_permissions(["microphone"], origin=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/account/login/")
    page.fill("input[name=username]", personas.owner_a.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/")

    # an iPhone voice memo: 1 s of silence, 3 s of voice, 2 s of silence
    memo = recording("iphone.m4a", seconds=3.0, lead=1.0, tail=2.0)
    page.goto("/callflows/audio/upload/")
    page.fill("input[name=label]", "診療時間の挨拶")
    page.set_input_files(
        "input[name=file]", {"name": "ボイスメモ.m4a", "mimeType": "audio/mp4", "buffer": memo}
    )
    page.click("main button:has-text('アップロード')")
    heard_memo = _convert_and_save(page, task_queue)

    # a greeting recorded on the page, from the phone's microphone
    page.goto("/callflows/audio/upload/")
    page.fill("input[name=label]", "時間外の挨拶")
    page.click("button:has-text('録音する')")
    page.wait_for_selector("[data-recorder-status]:has-text('録音中')")
    page.wait_for_timeout(2500)  # speaking; nothing is asserted about time
    page.click("button:has-text('停止')")
    page.wait_for_selector("[data-recorder][data-recorded]")
    assert page.eval_on_selector("input[name=file]", "input => input.files[0].name").endswith(
        ".webm"
    )
    page.click("main button:has-text('アップロード')")
    heard_recording = _convert_and_save(page, task_queue)

    with scopes_disabled():
        memo_audio = AudioFile.objects.get(label="診療時間の挨拶")
        recorded_audio = AudioFile.objects.get(label="時間外の挨拶")
        assert not AudioUpload.objects.exists()
    assert memo_audio.original_name == "ボイスメモ.m4a"
    assert recorded_audio.original_name.endswith(".webm")
    # heard on the page: the browser decoded the whole MP3, as long as the page said (less
    # the encoder's priming and padding, at most two frames, which LAME's header tells
    # players to skip and the page's length, counted in whole frames, includes)
    for heard, audio in ((heard_memo, memo_audio), (heard_recording, recorded_audio)):
        assert heard["error"] is None
        assert heard["after"] == pytest.approx(audio.duration_seconds, abs=0.05)
        assert audio.duration_seconds - 0.11 <= heard["duration"] <= audio.duration_seconds
    assert memo_audio.duration_seconds == pytest.approx(3.4, abs=0.15)  # 6 s memo, trimmed
    assert memo_audio.sample_rate == 22050 and recorded_audio.sample_rate == 22050

    # the flow: the voice memo for callers, the recording for withheld numbers
    page.goto(f"/numbers/{number.code}/flow/")
    page.click("button:has-text('ルールを追加')")
    page.fill("input[name=rules-0-label]", "非通知")
    page.select_option("select[name=rules-0-when]", "anonymous")
    page.select_option("select[name=rules-0-action]", "playback")
    page.select_option("select[name=rules-0-audio]", label="時間外の挨拶")
    page.select_option("select[name=default-action]", "playback")
    page.select_option("select[name=default-audio]", label="診療時間の挨拶")
    page.click("button:has-text('着信フローを保存')")
    page.wait_for_selector("text=着信フローを保存しました")

    # two test calls: the sandbox fetches each MP3 from the edge and plays it
    played = {}
    for caller, audio in (("090-1234-5678", memo_audio), ("", recorded_audio)):
        page.fill("input[name=caller]", caller)
        page.click("button:has-text('テスト発信する')")
        page.wait_for_selector("[data-test-call-status=queued]")
        assert task_queue.run_all_named("dins.test_call") == 1
        page.wait_for_selector("[data-test-call-status=done]")
        with scopes_disabled():
            test_call = TestCall.objects.order_by("-id").first()
        steps = [s for s in test_call.transcript["steps"] if s["kind"] == "playback"]
        assert [step["ok"] for step in steps] == [True], test_call.text
        played[audio.label] = steps[0]["audio_seconds"]
        # (FFmpeg leaves out the encoder's delay and padding LAME's header records: < 0.1 s)
        assert audio.duration_seconds - 0.1 <= steps[0]["audio_seconds"] <= audio.duration_seconds
        assert audio.public_id in steps[0]["detail"]
    assert set(played) == {"診療時間の挨拶", "時間外の挨拶"}
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()
