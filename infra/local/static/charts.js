// Charts as inline SVG built with the DOM (no library, no CDN; nothing a strict CSP refuses).
const SVG = "http://www.w3.org/2000/svg";

function node(tag, attrs, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = String(text);
  return element;
}

function frame(width, height, label) {
  return node("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "svg-chart" });
}

/** Columns with a label under each and the value above: e.g. a segment's size per scoring run. */
export function columns(points, label) {
  const width = 640;
  const height = 220;
  const svg = frame(width, height, label);
  const max = Math.max(1, ...points.map((p) => p.value));
  const step = (width - 40) / Math.max(1, points.length);
  const bar = Math.min(60, step * 0.7);
  svg.append(node("line", { x1: 20, y1: height - 40, x2: width - 20, y2: height - 40, class: "axis" }));
  points.forEach((point, i) => {
    const h = ((height - 80) * point.value) / max;
    const x = 20 + i * step + (step - bar) / 2;
    const y = height - 40 - h;
    const rect = node("rect", { x, y, width: bar, height: Math.max(1, h), class: "col", "data-value": point.value });
    rect.append(node("title", {}, `${point.label}: ${point.value}`));
    svg.append(rect);
    svg.append(node("text", { x: x + bar / 2, y: y - 6, "text-anchor": "middle", class: "val" }, point.value));
    svg.append(node("text", { x: x + bar / 2, y: height - 22, "text-anchor": "middle", class: "lbl" }, point.label));
  });
  return svg;
}

/** Horizontal bars: e.g. decisions by outcome and reason. */
export function bars(items, label) {
  const width = 520;
  const row = 26;
  const height = Math.max(row, items.length * row) + 10;
  const svg = frame(width, height, label);
  const max = Math.max(1, ...items.map((i) => i.value));
  items.forEach((item, i) => {
    const y = 5 + i * row;
    const w = ((width - 260) * item.value) / max;
    svg.append(node("text", { x: 0, y: y + 16, class: "lbl" }, item.label));
    const rect = node("rect", { x: 200, y: y + 3, width: Math.max(1, w), height: row - 8, class: `bar ${item.kind || ""}` });
    rect.append(node("title", {}, `${item.label}: ${item.value}`));
    svg.append(rect);
    svg.append(node("text", { x: 206 + w, y: y + 16, class: "val" }, item.value));
  });
  return svg;
}

/** A point estimate with its confidence interval on an axis through zero (differences of rates). */
export function interval(estimate, low, high, label) {
  const width = 520;
  const height = 70;
  const svg = frame(width, height, label);
  const reach = Math.max(0.01, Math.abs(low), Math.abs(high), Math.abs(estimate)) * 1.2;
  const x = (v) => 20 + ((v + reach) / (2 * reach)) * (width - 40);
  svg.append(node("line", { x1: 20, y1: 40, x2: width - 20, y2: 40, class: "axis" }));
  svg.append(node("line", { x1: x(0), y1: 20, x2: x(0), y2: 60, class: "zero" }));
  svg.append(node("text", { x: x(0), y: 14, "text-anchor": "middle", class: "lbl" }, "0"));
  svg.append(node("line", { x1: x(low), y1: 40, x2: x(high), y2: 40, class: "ci" }));
  svg.append(node("circle", { cx: x(estimate), cy: 40, r: 6, class: "estimate" }));
  const pct = (v) => `${(v * 100).toFixed(1)} %`;
  svg.append(node("text", { x: x(low), y: 64, "text-anchor": "middle", class: "lbl" }, pct(low)));
  svg.append(node("text", { x: x(high), y: 64, "text-anchor": "middle", class: "lbl" }, pct(high)));
  return svg;
}
