// A journey's funnel on the campaign page (issue 18): entered, at each step, converted, exited, and the
// hold-out group beside the treated one. Built with the DOM and inline SVG (charts.js): no library, no CDN.
import { bars } from "./charts.js";

function cell(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.textContent = String(text);
  return node;
}

function rate(part, whole) {
  return whole ? `${((100 * part) / whole).toFixed(1)} %` : "–";
}

/** Shows the funnel of a journey's report in `box` (a section hidden for single campaigns). */
export function renderJourney(box, report) {
  const funnel = report && report.funnel;
  box.hidden = !funnel;
  if (!funnel) {
    box.replaceChildren();
    return;
  }
  const heading = cell("h2", `Journey funnel — goal: ${funnel.goal}`);
  const summary = cell(
    "p",
    `${funnel.entered} entered: ${funnel.treated} treated, ${funnel.held_out} held out · ` +
      `${funnel.active} on their way · ${funnel.completed} completed`,
    { "data-testid": "journey-summary" },
  );
  // The funnel: everyone treated who entered, then how many reached each step, then the outcomes.
  const items = [
    { label: "entered (treated)", value: funnel.treated, kind: "sent" },
    ...funnel.steps.map((step) => ({
      label: `${step.type}: ${step.id}${step.type === "send" ? ` (sent ${step.sent + step.queued})` : ""}`,
      value: step.reached,
      kind: step.type === "send" ? "sent" : "",
    })),
    { label: "converted (goal)", value: funnel.converted, kind: "held" },
    ...Object.entries(funnel.exited).map(([reason, n]) => ({ label: `exited: ${reason}`, value: n, kind: "skipped" })),
  ];
  const chart = document.createElement("div");
  chart.className = "chart";
  chart.dataset.testid = "journey-funnel-chart";
  chart.append(bars(items, `funnel of ${funnel.journey_id}`));

  const table = document.createElement("table");
  table.className = "grid";
  table.dataset.testid = "journey-steps";
  const head = document.createElement("tr");
  for (const name of ["Step", "Type", "Reached", "At now", "Sent", "Held out", "Skipped"]) {
    head.append(cell("th", name, { scope: "col" }));
  }
  table.append(head);
  for (const step of funnel.steps) {
    const row = document.createElement("tr");
    row.dataset.step = step.id;
    const skipped = Object.entries(step.skipped).map(([reason, n]) => `${reason} ${n}`).join(", ") || "–";
    for (const value of [step.id, step.type, step.reached, step.at, step.sent + step.queued, step.held_out, skipped]) {
      row.append(cell("td", value));
    }
    table.append(row);
  }
  const groups = cell(
    "p",
    `Converted: treated ${funnel.converted} of ${funnel.treated} (${rate(funnel.converted, funnel.treated)}), ` +
      `held out ${funnel.held_out_converted} of ${funnel.held_out} (${rate(funnel.held_out_converted, funnel.held_out)})`,
    { "data-testid": "journey-groups" },
  );
  box.replaceChildren(heading, summary, chart, groups, table);
}
