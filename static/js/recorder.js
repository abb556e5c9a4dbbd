// Record a greeting in the browser (MediaRecorder), on a phone too, and upload it with the
// form like a chosen file. Shown only where the browser can record and hand a file to the
// form; without it the page is a plain file upload. The server converts whatever the browser
// makes (Opus in WebM on Chromium and Firefox, AAC in MP4 on Safari).
(() => {
  const TYPES = [
    ["audio/webm;codecs=opus", "webm"],
    ["audio/mp4", "m4a"],
    ["audio/ogg;codecs=opus", "ogg"],
    ["audio/webm", "webm"],
  ];

  function canHandOverFiles() {
    try {
      return typeof DataTransfer === "function" && Boolean(new DataTransfer().items);
    } catch (error) {
      return false;
    }
  }

  function clock(seconds) {
    const whole = Math.floor(seconds);
    return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  }

  function setUp(box) {
    if (box.dataset.ready) return;
    box.dataset.ready = "true";
    const form = box.closest("form");
    const input = form && form.querySelector("input[type=file]");
    if (!input || !window.MediaRecorder || !navigator.mediaDevices || !canHandOverFiles()) return;
    const start = box.querySelector("[data-recorder-start]");
    const stop = box.querySelector("[data-recorder-stop]");
    const time = box.querySelector("[data-recorder-time]");
    const status = box.querySelector("[data-recorder-status]");
    const preview = box.querySelector("[data-recorder-preview]");
    const maxSeconds = Number(box.dataset.maxSeconds) || 600;
    const [mimeType, extension] =
      TYPES.find(([type]) => MediaRecorder.isTypeSupported(type)) || ["", "webm"];
    let recorder = null;
    let timer = null;
    let began = 0;
    box.hidden = false;

    function finish() {
      clearInterval(timer);
      start.disabled = false;
      stop.disabled = true;
    }

    start.addEventListener("click", async () => {
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (error) {
        status.textContent = box.dataset.textDenied;
        return;
      }
      const chunks = [];
      try {
        recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
      } catch (error) {
        stream.getTracks().forEach((track) => track.stop());
        status.textContent = box.dataset.textFailed;
        return;
      }
      recorder.addEventListener("dataavailable", (event) => {
        if (event.data.size) chunks.push(event.data);
      });
      recorder.addEventListener("stop", () => {
        stream.getTracks().forEach((track) => track.stop());
        finish();
        const type = recorder.mimeType || mimeType || "audio/webm";
        const blob = new Blob(chunks, { type });
        if (!blob.size) {
          status.textContent = box.dataset.textFailed;
          return;
        }
        const stamp = new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "");
        const file = new File([blob], `${box.dataset.fileName}-${stamp}.${extension}`, { type });
        const transfer = new DataTransfer();
        transfer.items.add(file);
        input.files = transfer.files;
        preview.src = URL.createObjectURL(blob);
        preview.hidden = false;
        box.dataset.recorded = String(blob.size);
        status.textContent = box.dataset.textRecorded;
      });
      recorder.start(1000);
      began = Date.now();
      start.disabled = true;
      stop.disabled = false;
      status.textContent = box.dataset.textRecording;
      time.textContent = "0:00";
      timer = setInterval(() => {
        const seconds = (Date.now() - began) / 1000;
        time.textContent = clock(seconds);
        if (seconds >= maxSeconds && recorder.state === "recording") recorder.stop();
      }, 250);
    });

    stop.addEventListener("click", () => {
      if (recorder && recorder.state === "recording") recorder.stop();
    });
  }

  const setUpAll = () => document.querySelectorAll("[data-recorder]").forEach(setUp);
  document.addEventListener("DOMContentLoaded", setUpAll);
  // A failed conversion's page offers the recorder again in the part htmx swaps in.
  document.addEventListener("htmx:afterSwap", setUpAll);
})();
