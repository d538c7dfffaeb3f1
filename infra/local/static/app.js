// Marketing dashboard: reads the private API with the x-api-key header; no library, nothing fetched from
// elsewhere. The key comes from ?key=... (then kept in sessionStorage and removed from the address bar)
// or from the form.
"use strict";

(function () {
  const KEY_STORAGE = "rm-api-key";
  const STAGES = ["subscriber", "lead", "marketing_qualified", "customer"];
  const STAGE_LABELS = {
    subscriber: "Subscribers",
    lead: "Leads",
    marketing_qualified: "Marketing qualified",
    customer: "Customers",
  };
  const app = document.getElementById("app");
  const statusLine = document.getElementById("status");

  // -- small helpers ----------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const integer = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 0 });
  function pct(value, digits = 1) {
    return value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)} %`;
  }
  function signed(value) {
    if (value === null || value === undefined) return "–";
    return value > 0 ? `+${integer.format(value)}` : integer.format(value);
  }
  function label(name) {
    return name.charAt(0).toUpperCase() + name.slice(1);
  }
  function setStatus(text, isError = false) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", isError);
  }

  function apiKey() {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  }

  function takeKeyFromUrl() {
    const params = new URLSearchParams(window.location.search);
    if (!params.has("key")) return;
    sessionStorage.setItem(KEY_STORAGE, params.get("key") || "");
    params.delete("key");
    const query = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? `?${query}` : ""));
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { "x-api-key": apiKey(), Accept: "application/json" };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, payload.message || response.statusText);
    return payload;
  }

  // -- sections ---------------------------------------------------------------------------------------
  function renderRun(overview) {
    document.getElementById("run-id").textContent = overview.run_id || "none yet";
    const details = [];
    if (overview.as_of) details.push(`as of ${overview.as_of}`);
    if (overview.customers_scored !== null && overview.customers_scored !== undefined) {
      details.push(`${integer.format(overview.customers_scored)} contacts scored`);
    }
    if (overview.previous_run_id) details.push(`compared with ${overview.previous_run_id}`);
    document.getElementById("run-details").textContent = details.length ? `(${details.join(", ")})` : "";
  }

  function renderPareto(overview) {
    const share = overview.pareto_top20_revenue_share;
    document.getElementById("pareto-share").textContent = pct(share);
    document.getElementById("pareto-bar").style.width =
      share === null || share === undefined ? "0" : `${Math.max(0, Math.min(1, share)) * 100}%`;
  }

  function renderHeatmap(grid) {
    const table = document.getElementById("rfm-heatmap");
    const counts = {};
    let max = 0;
    for (let r = 1; r <= 5; r++) {
      for (let f = 1; f <= 5; f++) {
        const count = Number((grid || {})[`${r}${f}`] || 0);
        counts[`${r}${f}`] = count;
        max = Math.max(max, count);
      }
    }
    const head = el("tr", {}, el("th", { scope: "col", text: "R \\ F" }));
    for (let f = 1; f <= 5; f++) head.append(el("th", { scope: "col", text: `F${f}` }));
    table.tHead.replaceChildren(head);
    const rows = [];
    for (let r = 5; r >= 1; r--) {
      const row = el("tr", {}, el("th", { scope: "row", text: `R${r}` }));
      for (let f = 1; f <= 5; f++) {
        const count = counts[`${r}${f}`];
        const cell = el("td", {
          "data-testid": `rfm-cell-${r}${f}`,
          "data-count": count,
          title: `R${r} F${f}: ${count} customers`,
          text: integer.format(count),
        });
        const weight = max ? count / max : 0;
        cell.style.backgroundColor = `hsl(218, 72%, ${Math.round(96 - weight * 52)}%)`;
        cell.style.color = weight > 0.55 ? "#fff" : "#1d2433";
        row.append(cell);
      }
      rows.push(row);
    }
    table.tBodies[0].replaceChildren(...rows);
  }

  function renderFunnel(stageCounts) {
    const list = document.getElementById("funnel");
    const counts = STAGES.map((stage) => Number((stageCounts || {})[stage] || 0));
    const max = Math.max(1, ...counts);
    list.replaceChildren(
      ...STAGES.map((stage, i) => {
        const bar = el("div", { class: "bar" });
        bar.style.width = `${(counts[i] / max) * 100}%`;
        return el(
          "li",
          { "data-testid": `funnel-${stage}`, "data-count": counts[i] },
          el("span", { text: STAGE_LABELS[stage] }),
          el("div", {}, bar),
          el("span", { class: "num", text: integer.format(counts[i]) }),
        );
      }),
    );
  }

  function renderSegments(segments) {
    const body = document.getElementById("segments").tBodies[0];
    const max = Math.max(1, ...segments.map((s) => s.count));
    if (!segments.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 7, text: "No scoring run yet." })));
      return;
    }
    body.replaceChildren(
      ...segments.map((segment) => {
        const bar = el("div", { class: "sizebar" });
        bar.style.width = `${(segment.count / max) * 100}%`;
        const change = el("td", {
          class: `num ${segment.change > 0 ? "change-up" : segment.change < 0 ? "change-down" : ""}`,
          "data-testid": `segment-change-${segment.slug}`,
          text: signed(segment.change),
        });
        const latest = segment.latest_export;
        const link = latest
          ? el("a", {
              class: "download",
              href: latest.download_url,
              download: `${segment.slug}.csv`,
              rel: "noopener noreferrer",
              "data-testid": `download-${segment.slug}`,
              title: `${latest.export_id} · sha256 ${latest.sha256}`,
              text: `${segment.slug}.csv (${integer.format(latest.rows)} rows)`,
            })
          : el("span", { class: "muted", text: "no export yet" });
        const button = el("button", {
          type: "button",
          class: "secondary",
          "data-testid": `export-${segment.slug}`,
          text: "Export now",
        });
        button.addEventListener("click", () => exportSegment(segment, button));
        return el(
          "tr",
          { "data-testid": `segment-row-${segment.slug}`, "data-segment": segment.segment },
          el("th", { scope: "row", text: label(segment.segment) }),
          el("td", { class: "num", "data-testid": `segment-count-${segment.slug}`, text: integer.format(segment.count) }),
          change,
          el("td", { class: "sizecell" }, bar),
          el("td", { class: "num", text: pct(segment.revenue_share) }),
          el("td", {}, link),
          el("td", {}, button),
        );
      }),
    );
  }

  async function exportSegment(segment, button) {
    button.disabled = true;
    setStatus(`Exporting ${segment.segment}…`);
    try {
      const result = await api("POST", `/v1/segments/${encodeURIComponent(segment.slug)}/exports`, {});
      setStatus(`Export ${result.export_id}: ${result.status}`);
      await loadSegments();
    } catch (error) {
      setStatus(`Export of ${segment.segment} failed: ${error.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  function renderCampaigns(rows) {
    const body = document.getElementById("campaigns").tBodies[0];
    if (!rows.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 6, text: "No campaigns." })));
      return;
    }
    body.replaceChildren(
      ...rows.map(({ campaign, report, error }) => {
        const lift =
          report && report.absolute_lift !== null && report.absolute_lift !== undefined
            ? `${pct(report.absolute_lift)} [${pct(report.lift_ci_low)}, ${pct(report.lift_ci_high)}]`
            : "–";
        return el(
          "tr",
          { "data-testid": `campaign-row-${campaign.id}` },
          el(
            "th",
            { scope: "row" },
            campaign.name || campaign.id,
            campaign.enabled ? null : el("span", { class: "muted", text: " (disabled)" }),
          ),
          el("td", { text: campaign.channel }),
          el("td", { class: "num", "data-testid": `campaign-sent-${campaign.id}`, text: report ? report.sent : "–" }),
          el("td", { class: "num", text: report ? report.held_out : "–" }),
          el("td", {
            class: "num",
            text: report ? `${report.treatment.conversions} / ${report.control.conversions}` : error || "–",
          }),
          el("td", { class: "num", "data-testid": `campaign-lift-${campaign.id}`, text: lift }),
        );
      }),
    );
  }

  function renderRejected(calls) {
    const body = document.getElementById("rejected").tBodies[0];
    if (!calls.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 5, text: "No rejected calls." })));
      return;
    }
    body.replaceChildren(
      ...calls.map((call) =>
        el(
          "tr",
          {},
          el("td", { text: new Date(call.received_at).toLocaleString() }),
          el("td", { text: call.path }),
          el("td", { class: "num", text: call.index === null ? "–" : call.index }),
          el("td", { text: call.code }),
          el("td", { text: call.message }),
        ),
      ),
    );
  }

  // -- loading ----------------------------------------------------------------------------------------
  async function loadRejected() {
    const listing = await api("GET", "/v1/rejected-calls?days=7&limit=50");
    renderRejected(listing.calls || []);
  }

  async function loadSegments() {
    const overview = await api("GET", "/v1/segments");
    renderRun(overview);
    renderPareto(overview);
    renderHeatmap(overview.rfm_grid);
    renderFunnel(overview.stage_counts);
    renderSegments(overview.segments || []);
    return overview;
  }

  async function loadCampaigns() {
    const listing = await api("GET", "/v1/campaigns");
    const rows = [];
    for (const campaign of listing.campaigns || []) {
      try {
        rows.push({ campaign, report: await api("GET", `/v1/campaigns/${encodeURIComponent(campaign.id)}/report`) });
      } catch (error) {
        rows.push({ campaign, report: null, error: error.message });
      }
    }
    renderCampaigns(rows);
  }

  async function load() {
    if (!apiKey()) {
      app.dataset.state = "needs-key";
      setStatus("Enter the API key (the local stack prints it when it starts).", true);
      document.getElementById("api-key").focus();
      return;
    }
    app.dataset.state = "loading";
    setStatus("Loading…");
    try {
      await loadSegments();
      await loadCampaigns();
      await loadRejected();
      app.dataset.state = "ready";
      setStatus(`Updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      app.dataset.state = "error";
      const hint = error.status === 403 ? " — check the API key" : "";
      setStatus(`Could not load the dashboard: ${error.message}${hint}`, true);
    }
  }

  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("api-key");
    sessionStorage.setItem(KEY_STORAGE, input.value.trim());
    input.value = "";
    load();
  });
  document.getElementById("refresh").addEventListener("click", () => load());

  takeKeyFromUrl();
  load();
})();
