// The call-flow editor in place: add, remove and move rules without reloading the page.
// Without this script the same buttons submit the editor and the server redraws it.
(function () {
  const form = document.getElementById("flow-editor");
  if (!form) return;
  const list = form.querySelector("[data-rules]");
  const template = document.getElementById("rule-template");
  const total = form.querySelector("input[name=rules-TOTAL_FORMS]");
  const initial = form.querySelector("input[name=rules-INITIAL_FORMS]");
  const max = parseInt(list.dataset.max || "30", 10);
  const PREFIX = /rules-(\d+|__prefix__)-/;

  function renumber() {
    const rules = list.querySelectorAll("fieldset[data-rule]");
    rules.forEach((rule, index) => {
      for (const el of rule.querySelectorAll("[name], [id], [for]")) {
        for (const attr of ["name", "id", "for"]) {
          const value = el.getAttribute(attr);
          if (value && PREFIX.test(value)) el.setAttribute(attr, value.replace(PREFIX, `rules-${index}-`));
        }
      }
      for (const button of rule.querySelectorAll("button[name=edit]")) {
        button.value = button.value.replace(/:\d+$/, `:${index}`);
      }
      const number = rule.querySelector("[data-rule-number]");
      if (number) number.textContent = String(index + 1);
    });
    total.value = String(rules.length);
    // Every rule on screen is posted as it stands; a rule left completely blank is skipped.
    initial.value = "0";
    const none = form.querySelector("[data-no-rules]");
    if (none) none.hidden = rules.length > 0;
    form.querySelector("[data-rule-add]").disabled = rules.length >= max;
  }

  function changed() {
    form.dispatchEvent(new Event("flow-editor-changed"));
  }

  form.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || !form.contains(button)) return;
    const rule = button.closest("fieldset[data-rule]");
    if (button.matches("[data-rule-add]")) {
      event.preventDefault();
      const count = list.querySelectorAll("fieldset[data-rule]").length;
      if (count >= max) return;
      const html = template.innerHTML.replaceAll("__prefix__", String(count)).replaceAll("__number__", String(count + 1));
      list.insertAdjacentHTML("beforeend", html);
      renumber();
      const added = list.lastElementChild;
      added.querySelector("select[name$='-when']").focus();
    } else if (button.matches("[data-rule-remove]") && rule) {
      event.preventDefault();
      const next = rule.nextElementSibling || rule.previousElementSibling;
      rule.remove();
      renumber();
      (next ? next.querySelector("[data-rule-remove]") : form.querySelector("[data-rule-add]")).focus();
      changed();
    } else if (button.matches("[data-rule-above]")) {
      // A warning's fix: "above:4-1" puts rule 4 above rule 1 (the week view then redraws).
      event.preventDefault();
      const [moved, target] = button.dataset.ruleAbove.replace("above:", "").split("-").map(Number);
      const rules = list.querySelectorAll("fieldset[data-rule]");
      if (rules[moved] && rules[target] && target < moved) {
        list.insertBefore(rules[moved], rules[target]);
        renumber();
        rules[moved].querySelector("select[name$='-when']").focus();
        changed();
      }
    } else if (button.matches("[data-rule-move]") && rule) {
      event.preventDefault();
      if (button.dataset.ruleMove === "up" && rule.previousElementSibling) {
        list.insertBefore(rule, rule.previousElementSibling);
      } else if (button.dataset.ruleMove === "down" && rule.nextElementSibling) {
        list.insertBefore(rule.nextElementSibling, rule);
      }
      renumber();
      button.focus();
      changed();
    }
  });
})();
