// Small progressive enhancements; every page works without them.
document.documentElement.classList.add("js");

// On a phone the main menu folds behind a "Menu" button (without script it stays open).
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".menu-toggle");
  if (!toggle) return;
  toggle.hidden = false;
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    document.getElementById("topbar").classList.toggle("nav-open", open);
  });
});
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-autosubmit]");
  if (form && event.target.tagName === "SELECT") form.requestSubmit();
});

// <time data-countdown="ISO 8601"> shows the time left, updated every second.
function renderCountdowns() {
  const lang = document.documentElement.lang;
  for (const el of document.querySelectorAll("time[data-countdown]")) {
    let seconds = Math.max(0, Math.floor((Date.parse(el.dataset.countdown) - Date.now()) / 1000));
    const h = Math.floor(seconds / 3600);
    seconds -= h * 3600;
    const m = Math.floor(seconds / 60);
    const s = seconds - m * 60;
    const pad = (n) => String(n).padStart(2, "0");
    el.textContent = lang === "ja" ? `${h}時間${pad(m)}分${pad(s)}秒` : `${h}h ${pad(m)}m ${pad(s)}s`;
  }
}
setInterval(renderCountdowns, 1000);
document.addEventListener("DOMContentLoaded", renderCountdowns);
document.addEventListener("htmx:afterSwap", renderCountdowns);
