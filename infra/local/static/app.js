// The marketing console: overview, customers, segments, campaigns. Reads the private API with the signed-in
// user's ID token (auth.js); no library, nothing fetched from elsewhere; charts are inline SVG (charts.js).
// What a user may do is decided by the API (its route -> roles table); the page only hides the controls
// the roles of /v1/me cannot use.
import { currentToken, finishSignIn, forgetToken, loadConfig, signIn, signOut } from "./auth.js";
import { bars, columns, interval } from "./charts.js";
import { renderJourney } from "./journeys.js";
import { renderScoreHistory } from "./score_history.js";

{
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

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  let config = null;
  let me = null;

  async function api(method, path, body) {
    const token = currentToken();
    if (!token) {
      showSignIn("Your session ended: sign in again.");
      throw new ApiError(401, "signed out");
    }
    // The raw ID token, as API Gateway's Cognito authorizer reads the Authorization header: the form AWS
    // documents for REST APIs ("call the API method with one of the tokens ... set to the request's
    // Authorization header", docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-integrate-with-cognito.html).
    // "Bearer <token>" is reported to work too (aws-amplify/docs#959), and rejected by some clients' setups
    // (postmanlabs/postman-app-support#6987): the raw token is the form that works everywhere. The ID token,
    // not the access token: without authorization scopes the authorizer takes the ID token
    // (aws-amplify/docs#1137, awslabs/nx-plugin-for-aws#828), and the handler needs its cognito:groups.
    const headers = { Authorization: token, Accept: "application/json" };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(`${config.api || ""}${path}`, init);
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
          el("th", { scope: "row" }, el("a", { href: `#/segments/${segment.slug}`, text: label(segment.segment) })),
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
            el("a", { href: `#/campaigns/${encodeURIComponent(campaign.id)}`, text: campaign.name || campaign.id }),
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

  // -- overview -----------------------------------------------------------------------------------------
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
    return listing.campaigns || [];
  }

  async function overviewView() {
    await loadSegments();
    await loadCampaigns();
    await loadRejected();
  }

  // -- customers ----------------------------------------------------------------------------------------
  function fields(target, entries) {
    const list = document.getElementById(target);
    const items = entries.filter(([, value]) => value !== null && value !== undefined && value !== "");
    if (!items.length) {
      list.replaceChildren(el("dd", { class: "muted", text: "–" }));
      return;
    }
    list.replaceChildren(
      ...items.flatMap(([name, value]) => [
        el("dt", { text: name }),
        el("dd", { "data-field": name, text: typeof value === "object" ? JSON.stringify(value) : value }),
      ]),
    );
  }

  function rows(testid, items, cells, empty) {
    const body = document.querySelector(`[data-testid='${testid}'] tbody`);
    const width = document.querySelectorAll(`[data-testid='${testid}'] thead th`).length;
    if (!items.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: width, class: "muted", text: empty })));
      return;
    }
    const numeric = [...document.querySelectorAll(`[data-testid='${testid}'] thead th`)].map((th) =>
      th.classList.contains("num"),
    );
    body.replaceChildren(
      ...items.map((item) =>
        el("tr", {}, ...cells(item).map((c, i) => el("td", { class: numeric[i] ? "num" : null }, c))),
      ),
    );
  }

  const when = (text) => (text ? new Date(text).toLocaleString("en-GB") : "–");

  async function customerView(customerId) {
    const profileBox = document.getElementById("profile");
    if (!customerId) {
      profileBox.hidden = true;
      return;
    }
    const [profile, activity] = await Promise.all([
      api("GET", `/v1/customers/${encodeURIComponent(customerId)}`),
      api("GET", `/v1/customers/${encodeURIComponent(customerId)}/activity`),
    ]);
    showProfile(profile, activity);
  }

  function showProfile(profile, activity) {
    const box = document.getElementById("profile");
    box.hidden = false;
    box.dataset.customerId = profile.customer_id;
    const p = profile.profile || {};
    const a = profile.aggregates || {};
    fields("profile-fields", [
      ["customer id", profile.customer_id],
      ["email", p.email],
      ["user id", p.user_id],
      ["name", [p.first_name, p.last_name].filter(Boolean).join(" ")],
      ["first seen", when(a.first_seen_at)],
      ["last seen", when(a.last_seen_at)],
      ["orders", a.purchase_count],
      ["total spent", a.total_spent],
      ["average order", a.average_order_value],
    ]);
    fields(
      "consent-now",
      Object.entries(profile.consent || {}).map(([channel, record]) => [
        channel,
        `${record.status} (${record.source || "?"}${record.wording_version ? `, wording ${record.wording_version}` : ""})`,
      ]),
    );
    document.getElementById("suppression").textContent = activity.suppression
      ? Object.entries(activity.suppression).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("; ")
      : "Not suppressed";
    const s = profile.scores || {};
    fields("scores", [
      ["run", s.run_id],
      ["segment", s.segment],
      ["stage", s.stage],
      ["RFM", s.recency_score ? `R${s.recency_score} F${s.frequency_score} M${s.monetary_score}` : null],
      ["lead score", s.lead_score],
      ["p(alive)", s.p_alive === undefined || s.p_alive === null ? null : Number(s.p_alive).toFixed(3)],
      ["CLV", s.clv === undefined || s.clv === null ? null : Number(s.clv).toFixed(2)],
      ["runs kept", activity.score_history.length],
    ]);
    renderScoreHistory(document.getElementById("score-history"), activity.score_history);
    rows(
      "consent-timeline",
      activity.consent_timeline,
      (c) => [when(c.occurred_at), c.channel, c.status, c.source || "–", c.wording_version || "–"],
      "No consent changes recorded.",
    );
    rows(
      "decisions",
      activity.decisions,
      (d) => [when(d.decided_at), d.campaign_id, d.outcome, d.reason || "–", d.channel || "–"],
      "No campaign decisions.",
    );
    rows(
      "interactions",
      activity.interactions,
      (i) => [when(i.occurred_at), i.type, i.event || "–", i.source || "–", i.amount === null ? "–" : i.amount],
      "No interactions.",
    );
    document.getElementById("interactions-total").textContent = `(${activity.interactions_total})`;
    document.getElementById("erase-confirm").hidden = true;
  }

  async function searchCustomer(event) {
    event.preventDefault();
    const kind = document.getElementById("search-kind").value;
    const value = document.getElementById("search-value").value.trim();
    if (!value) return;
    try {
      const found = await api("GET", `/v1/customers?${new URLSearchParams({ [kind]: value })}`);
      window.location.hash = `#/customers/${encodeURIComponent(found.customer_id)}`;
    } catch (error) {
      document.getElementById("profile").hidden = true;
      setStatus(error.status === 404 ? `No customer with ${kind} ${value}.` : error.message, true);
    }
  }

  async function gdprExport() {
    const id = document.getElementById("profile").dataset.customerId;
    const data = await api("GET", `/v1/customers/${encodeURIComponent(id)}/export`);
    const link = el("a", {
      href: URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" })),
      download: `${id}.json`,
    });
    document.body.append(link);
    link.click();
    link.remove();
    setStatus(`Downloaded everything held on ${id} (${data.interactions.length} interactions).`);
  }

  async function gdprErase() {
    const id = document.getElementById("profile").dataset.customerId;
    if (document.getElementById("erase-typed").value.trim() !== id) {
      setStatus("Type the customer id exactly to confirm the erasure.", true);
      return;
    }
    const result = await api("DELETE", `/v1/customers/${encodeURIComponent(id)}`);
    document.getElementById("profile").hidden = true;
    document.getElementById("erase-typed").value = "";
    window.history.replaceState(null, "", "#/customers");
    setStatus(`Erased ${id}: ${Object.entries(result.erased).map(([k, v]) => `${v} ${k}`).join(", ")}.`);
    app.dataset.erased = id;
  }

  // -- segments -----------------------------------------------------------------------------------------
  async function segmentsView(slug) {
    const overview = await api("GET", "/v1/segments");
    document.getElementById("segment-links").replaceChildren(
      ...(overview.segments || []).map((s) =>
        el("li", {}, el("a", { href: `#/segments/${s.slug}`, "data-testid": `segment-link-${s.slug}`, text: `${label(s.segment)} (${integer.format(s.count)})` })),
      ),
    );
    const detailBox = document.getElementById("segment-detail");
    if (!slug) {
      detailBox.hidden = true;
      return;
    }
    const detail = await api("GET", `/v1/segments/${encodeURIComponent(slug)}`);
    detailBox.hidden = false;
    detailBox.dataset.segment = detail.slug;
    document.getElementById("segment-title").textContent = `${label(detail.segment)}: size over ${detail.runs.length} scoring runs`;
    document.getElementById("segment-chart").replaceChildren(
      columns(
        detail.runs.map((run) => ({ label: run.as_of || run.run_id.slice(6, 14), value: run.count })),
        `${detail.segment} per run`,
      ),
    );
    rows(
      "segment-sample",
      detail.sample,
      (m) => [
        el("a", { href: `#/customers/${encodeURIComponent(m.customer_id)}`, text: m.customer_id }),
        m.email || "–",
        m.frequency === null ? "–" : integer.format(m.frequency),
        m.monetary_value === null ? "–" : m.monetary_value.toFixed(2),
        m.clv === null ? "–" : m.clv.toFixed(2),
      ],
      "No members.",
    );
    const row = (overview.segments || []).find((s) => s.slug === detail.slug);
    showSegmentExport(row && row.latest_export);
  }

  function showSegmentExport(latest) {
    const target = document.getElementById("segment-export-link");
    target.replaceChildren(
      latest
        ? el("a", {
            class: "download",
            href: latest.download_url,
            rel: "noopener noreferrer",
            "data-testid": "segment-download",
            title: latest.export_id,
            text: `Latest export: ${integer.format(latest.rows)} rows`,
          })
        : el("span", { class: "muted", text: "No export yet." }),
    );
  }

  async function exportThisSegment() {
    const slug = document.getElementById("segment-detail").dataset.segment;
    const button = document.getElementById("segment-export");
    button.disabled = true;
    try {
      const started = await api("POST", `/v1/segments/${encodeURIComponent(slug)}/exports`, {});
      const view = await api("GET", `/v1/exports/${encodeURIComponent(started.export_id)}`);
      const file = (view.files || [])[0];
      document.getElementById("segment-export-link").replaceChildren(
        file
          ? el("a", { class: "download", href: file.download_url, "data-testid": "segment-download", title: view.export_id, text: `${view.export_id}: ${integer.format(file.rows)} rows` })
          : el("span", { "data-testid": "segment-export-status", text: `${view.export_id}: ${view.status}` }),
      );
      setStatus(`Export ${view.export_id}: ${view.status}`);
    } finally {
      button.disabled = false;
    }
  }

  // -- campaigns ----------------------------------------------------------------------------------------
  async function campaignsView(campaignId) {
    const listing = await api("GET", "/v1/campaigns");
    document.getElementById("campaign-links").replaceChildren(
      ...listing.campaigns.map((c) =>
        el("li", {}, el("a", { href: `#/campaigns/${encodeURIComponent(c.id)}`, "data-testid": `campaign-link-${c.id}`, text: `${c.name} (${c.enabled ? "on" : "off"})` })),
      ),
    );
    const box = document.getElementById("campaign-detail");
    const campaign = listing.campaigns.find((c) => c.id === campaignId);
    if (!campaign) {
      box.hidden = true;
      return;
    }
    const report = await api("GET", `/v1/campaigns/${encodeURIComponent(campaign.id)}/report`);
    box.hidden = false;
    box.dataset.campaign = campaign.id;
    document.getElementById("campaign-title").textContent = `${campaign.name} — ${campaign.channel}`;
    const state = document.getElementById("campaign-state");
    state.textContent = campaign.enabled ? "Enabled" : "Disabled";
    state.dataset.enabled = String(campaign.enabled);
    const toggle = document.getElementById("campaign-switch");
    toggle.textContent = campaign.enabled ? "Disable" : "Enable";
    toggle.dataset.enable = String(!campaign.enabled);
    const hasLift = report.absolute_lift !== null && report.absolute_lift !== undefined;
    document.getElementById("campaign-lift").textContent = hasLift ? pct(report.absolute_lift) : "–";
    document.getElementById("campaign-ci").textContent = hasLift
      ? `${Math.round(report.confidence * 100)} % interval [${pct(report.lift_ci_low)}, ${pct(report.lift_ci_high)}] (${report.ci_method}); p = ${report.p_value === null ? "–" : report.p_value.toFixed(3)}`
      : "Not enough contacts in both groups yet.";
    document.getElementById("lift-chart").replaceChildren(
      hasLift ? interval(report.absolute_lift, report.lift_ci_low, report.lift_ci_high, "lift with its interval") : "",
    );
    const reasons = [
      { label: "sent", value: report.sent, kind: "sent" },
      { label: "held out", value: report.held_out, kind: "held" },
      { label: "deferred", value: report.deferred },
      { label: "queued", value: report.queued || 0 },
      ...Object.entries(report.skipped || {}).map(([reason, n]) => ({ label: `skipped: ${reason}`, value: n, kind: "skipped" })),
      ...Object.entries(report.failed || {}).map(([reason, n]) => ({ label: `failed: ${reason}`, value: n, kind: "failed" })),
    ];
    document.getElementById("reasons-chart").replaceChildren(bars(reasons, "decisions by outcome and reason"));
    rows(
      "campaign-groups",
      [
        ["treatment (sent)", report.treatment],
        ["control (held out)", report.control],
      ],
      ([name, g]) => [name, g.contacts, g.conversions, pct(g.conversion_rate), g.revenue.toFixed(2)],
      "",
    );
    renderJourney(document.getElementById("journey-funnel"), report);
  }

  async function switchCampaign() {
    const id = document.getElementById("campaign-detail").dataset.campaign;
    const enable = document.getElementById("campaign-switch").dataset.enable === "true";
    await api("PATCH", `/v1/campaigns/${encodeURIComponent(id)}`, { enabled: enable });
    await campaignsView(id);
    setStatus(`${id} ${enable ? "enabled" : "disabled"}.`);
  }

  // -- routing ------------------------------------------------------------------------------------------
  const VIEWS = {
    "": ["overview", () => overviewView()],
    customers: ["customers", (id) => customerView(id)],
    segments: ["segments", (slug) => segmentsView(slug)],
    campaigns: ["campaigns", (id) => campaignsView(id)],
  };

  async function route() {
    const [, section = "", rawId = ""] = (window.location.hash || "#/").split("/");
    const [name, load] = VIEWS[section] || VIEWS[""];
    for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
    app.dataset.view = name;
    app.dataset.state = "loading";
    setStatus("Loading…");
    try {
      await load(decodeURIComponent(rawId));
      app.dataset.state = "ready";
      setStatus(`Updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      if (error.status === 401) return;
      app.dataset.state = "error";
      setStatus(`Could not load this page: ${error.message}`, true);
    }
  }

  function showSignIn(message) {
    forgetToken();
    app.hidden = true;
    app.dataset.state = "signed-out";
    document.getElementById("signin").hidden = false;
    document.getElementById("signin-status").textContent = message || "";
  }

  async function act(action) {
    try {
      await action();
    } catch (error) {
      if (error.status !== 401) setStatus(error.message, true);
    }
  }

  async function start() {
    try {
      config = await loadConfig();
      await finishSignIn(config);
    } catch (error) {
      showSignIn(error.message);
      return;
    }
    if (!currentToken()) {
      showSignIn("");
      return;
    }
    try {
      me = await api("GET", "/v1/me");
    } catch (error) {
      showSignIn(error.status === 403 ? `Not allowed: ${error.message}` : error.message);
      return;
    }
    document.getElementById("signin").hidden = true;
    app.hidden = false;
    document.getElementById("user").textContent = me.principal;
    document.getElementById("roles").textContent = me.roles.join(", ") || "no role";
    document.body.classList.toggle("is-admin", me.roles.includes("admin"));
    document.body.classList.toggle("is-local", Boolean(config.local));
    await route();
  }

  document.getElementById("signin-button").addEventListener("click", () => signIn(config));
  document.getElementById("signout").addEventListener("click", () => signOut(config));
  document.getElementById("refresh").addEventListener("click", () => route());
  document.getElementById("customer-search").addEventListener("submit", (event) => act(() => searchCustomer(event)));
  document.getElementById("gdpr-export").addEventListener("click", () => act(gdprExport));
  document.getElementById("gdpr-erase").addEventListener("click", () => {
    document.getElementById("erase-confirm").hidden = false;
    document.getElementById("erase-typed").focus();
  });
  document.getElementById("erase-cancel").addEventListener("click", () => {
    document.getElementById("erase-confirm").hidden = true;
  });
  document.getElementById("erase-now").addEventListener("click", () => act(gdprErase));
  document.getElementById("segment-export").addEventListener("click", () => act(exportThisSegment));
  document.getElementById("campaign-switch").addEventListener("click", () => act(switchCampaign));
  window.addEventListener("hashchange", () => {
    if (!app.hidden) route();
  });

  start();
}
