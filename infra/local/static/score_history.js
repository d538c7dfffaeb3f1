// The profile's scores over runs (GET /v1/customers/{id}/activity -> score_history, oldest first): a line
// chart of the predicted value (CLV, left scale) and the churn risk (0-100 %, right scale) per run, as inline
// SVG built with the DOM (no library, no CDN), and the segment and stage of each run under it.
const SVG = "http://www.w3.org/2000/svg";

function node(tag, attrs, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = String(text);
  return element;
}

const day = (text) => (text ? String(text).slice(0, 10) : "?");
const number = (value) => (value === null || value === undefined ? null : Number(value));

/** An SVG chart of CLV and churn risk over the runs; one point per run, each with a tooltip. */
export function scoreChart(history) {
  // Drawn for a narrow card (the profile's scores column): a small view box keeps the labels readable.
  const width = 400;
  const height = 200;
  const left = 40;
  const right = width - 44;
  const top = 20;
  const bottom = height - 44;
  const svg = node("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "Scores over scoring runs: CLV and churn risk",
    class: "svg-chart score-history",
  });
  const clvs = history.map((h) => number(h.clv)).filter((v) => v !== null);
  const maxClv = Math.max(1, ...clvs);
  const step = history.length > 1 ? (right - left) / (history.length - 1) : 0;
  const x = (i) => (history.length > 1 ? left + i * step : (left + right) / 2);
  const yClv = (v) => bottom - ((bottom - top) * v) / maxClv;
  const yRisk = (v) => bottom - (bottom - top) * Math.min(1, Math.max(0, v));
  svg.append(node("line", { x1: left, y1: bottom, x2: right, y2: bottom, class: "axis" }));
  svg.append(node("text", { x: 4, y: top + 4, class: "lbl" }, maxClv.toFixed(0)));
  svg.append(node("text", { x: 4, y: bottom, class: "lbl" }, "0"));
  svg.append(node("text", { x: right + 6, y: top + 4, class: "lbl" }, "100 %"));
  svg.append(node("text", { x: right + 6, y: bottom, class: "lbl" }, "0 %"));
  const series = [
    { name: "CLV", kind: "clv", y: yClv, value: (h) => number(h.clv), show: (v) => v.toFixed(2) },
    { name: "churn risk", kind: "churn", y: yRisk, value: (h) => number(h.churn_risk), show: (v) => `${(v * 100).toFixed(1)} %` },
  ];
  for (const s of series) {
    const points = history
      .map((h, i) => [i, s.value(h)])
      .filter(([, v]) => v !== null)
      .map(([i, v]) => [x(i), s.y(v), i, v]);
    if (points.length > 1) {
      svg.append(node("polyline", { points: points.map(([px, py]) => `${px},${py}`).join(" "), class: `line ${s.kind}`, fill: "none" }));
    }
    for (const [px, py, i, v] of points) {
      const dot = node("circle", { cx: px, cy: py, r: 4, class: `dot ${s.kind}`, "data-run": history[i].run_id, "data-value": v });
      dot.append(node("title", {}, `${s.name} ${s.show(v)} (run ${history[i].run_id}, ${day(history[i].scored_at)})`));
      svg.append(dot);
    }
  }
  history.forEach((h, i) => {
    svg.append(node("text", { x: x(i), y: bottom + 16, "text-anchor": "middle", class: "lbl" }, day(h.scored_at)));
  });
  svg.append(node("text", { x: left, y: height - 6, class: "lbl clv" }, "— CLV (left)"));
  svg.append(node("text", { x: left + 120, y: height - 6, class: "lbl churn" }, "— churn risk (right)"));
  return svg;
}

/** Fill ``container`` with the chart and a table of each run's segment, stage, CLV and churn risk, newest
 * first (the run id, RFM and lead score in each row's tooltip). */
export function renderScoreHistory(container, history) {
  if (!container) return;
  container.replaceChildren();
  if (!history || history.length === 0) {
    const empty = document.createElement("p");
    empty.className = "muted";
    empty.textContent = "Not scored yet.";
    container.append(empty);
    return;
  }
  container.append(scoreChart(history));
  const table = document.createElement("table");
  table.className = "grid";
  table.dataset.testid = "score-history-runs";
  const head = table.createTHead().insertRow();
  for (const title of ["scored", "segment", "stage", "CLV", "churn risk"]) {
    const th = document.createElement("th");
    th.textContent = title;
    head.append(th);
  }
  const body = table.createTBody();
  for (const h of [...history].reverse()) {
    const row = body.insertRow();
    row.dataset.run = h.run_id;
    const rfm = h.recency_score ? `, RFM R${h.recency_score} F${h.frequency_score} M${h.monetary_score}` : "";
    const lead = number(h.lead_score) === null ? "" : `, lead score ${Number(h.lead_score).toFixed(1)}`;
    row.title = `run ${h.run_id}${rfm}${lead}`;
    const cells = [
      day(h.scored_at),
      h.segment || "prospect",
      h.stage || "–",
      number(h.clv) === null ? "–" : Number(h.clv).toFixed(2),
      number(h.churn_risk) === null ? "–" : `${(Number(h.churn_risk) * 100).toFixed(1)} %`,
    ];
    for (const text of cells) row.insertCell().textContent = text;
  }
  container.append(table);
}
