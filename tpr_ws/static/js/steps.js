// The step indicator: where the conversation is, from the latest bot event's stage.

import { h, clear } from "./dom.js";

export const STEPS = [
  { stage: "awaiting_upload", label: "Upload data" },
  { stage: "select_state", label: "State" },
  { stage: "select_facility_level", label: "Facility level" },
  { stage: "select_age_group", label: "Age group" },
  { stage: "results", label: "Results" },
];

export class StageSteps {
  constructor(list) {
    this.list = list;
    clear(list);
    this.items = STEPS.map((step, k) => {
      const li = h("li", { class: "step", dataset: { stage: step.stage } },
        h("span", { class: "step-num", "aria-hidden": "true", text: String(k + 1) }),
        h("span", { class: "step-label", text: step.label }),
        h("span", { class: "sr-only step-state" }));
      list.append(li);
      return li;
    });
  }

  set(stage) {
    const current = STEPS.findIndex((s) => s.stage === stage);
    if (current === -1) return;
    this.items.forEach((li, k) => {
      li.classList.toggle("done", k < current);
      li.classList.toggle("current", k === current);
      if (k === current) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
      li.querySelector(".step-state").textContent = k < current ? " (done)" : k === current ? " (current step)" : "";
    });
  }
}
