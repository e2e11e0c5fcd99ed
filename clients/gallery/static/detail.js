// One integration's detail page: overview, import history, the project's webhook events with replay,
// and per-day analytics drawn as inline SVG. Talks only to this app's JSON API; builds the DOM with
// textContent and DOM methods, never innerHTML.
"use strict";

const [, , ORG, , PROJECT, , NAME] = window.location.pathname.replace(/\/+$/, "").split("/");
const API = `/api/orgs/${ORG}/projects/${PROJECT}`;
const SVG = "http://www.w3.org/2000/svg";
let card = null;
let eventsToken = "";

const api = apiAt(API); // api.js

function el(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

function counts(map) {
  const entries = Object.entries(map || {}).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([kind, n]) => `${n.toLocaleString()} ${kind}`).join(", ") : "nothing";
}

function notice(text) {
  const node = document.getElementById("notice");
  node.textContent = text;
  node.hidden = false;
}

// ---------------------------------------------------------------- tabs (WAI-ARIA: arrows move, Enter/Space not needed)

function tabs() {
  return [...document.querySelectorAll('[role="tab"]')];
}

function select(tab) {
  for (const other of tabs()) {
    const chosen = other === tab;
    other.setAttribute("aria-selected", String(chosen));
    other.tabIndex = chosen ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !chosen;
  }
  tab.focus();
  LOADERS[tab.id]();
}

function onTabKey(event) {
  const all = tabs();
  const index = all.indexOf(event.currentTarget);
  const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: all.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  select(all[(next + all.length) % all.length]);
}

// ---------------------------------------------------------------- overview

async function loadOverview() {
  card = await api("GET", `/integrations/${encodeURIComponent(NAME)}`);
  const label = card.display_name || card.name;
  document.title = `${label} · Integration Gallery`;
  document.getElementById("title").textContent = label;
  const facts = document.getElementById("overview-facts");
  facts.replaceChildren();
  const rows = [
    ["Enabled", card.enabled ? "on" : "off"],
    ["Connection", card.connection_status.replace(/_/g, " ")],
    ["Connected with", card.auth_method ? card.auth_method.replace(/_/g, " ") : "not configured"],
    ["Last tested", when(card.last_tested_time)],
    ["Last error", card.last_error || "none"],
  ];
  for (const [term, value] of rows) facts.append(el("dt", term), el("dd", value));
  const hooks = document.getElementById("overview-webhooks");
  hooks.replaceChildren(
    ...(card.webhooks.length
      ? card.webhooks.map((hook) =>
          el("li", `Webhook ${hook.id} (${hook.workspace_id}): ${hook.status}, ${hook.fail_count} failures, checked ${when(hook.checked_time)}`),
        )
      : [el("li", "Off: no webhooks (turn auto-sync on in the gallery's Configure dialog)")]),
  );
  document.getElementById("overview-import").textContent = card.last_import_job_id
    ? `${when(card.last_import_time)}: ${counts(card.totals)}`
    : "No import yet";
  const { records } = await api("GET", `/integrations/${encodeURIComponent(NAME)}/audit`);
  document.getElementById("overview-audit").replaceChildren(
    ...(records.length
      ? records.map((r) =>
          el("li", `${when(r.time)} · ${r.actor} · ${r.action} ${Object.entries(r.details).map(([k, v]) => `${k}=${v}`).join(" ")}`),
        )
      : [el("li", "No changes recorded")]),
  );
}

// ---------------------------------------------------------------- imports

function took(job) {
  if (!job.start_time || !job.finish_time) return job.done ? "–" : "running";
  return `${((new Date(job.finish_time) - new Date(job.start_time)) / 1000).toFixed(1)} s`;
}

async function loadImports() {
  const { jobs } = await api("GET", `/integrations/${encodeURIComponent(NAME)}/jobs`);
  const body = document.querySelector("#imports tbody");
  body.replaceChildren(
    ...jobs.map((job) => {
      const row = el("tr", null, { "data-testid": "import-row" });
      const error = el("td", job.error || "", { class: "error" });
      row.append(el("td", when(job.create_time)), el("td", job.state), el("td", took(job)),
        el("td", job.api_calls.toLocaleString()), el("td", counts(job.counters)), error);
      return row;
    }),
  );
  if (!jobs.length) {
    const row = el("tr");
    row.append(el("td", "No imports yet", { colspan: "6" }));
    body.append(row);
  }
}

// ---------------------------------------------------------------- events

function eventRow(event) {
  const row = el("tr", null, { "data-testid": "event-row", "data-state": event.state });
  const pick = el("input", null, { type: "checkbox", "aria-label": `Select ${event.event} ${event.object_id}` });
  pick.value = event.id;
  const cell = el("td");
  cell.append(pick);
  row.append(cell, el("td", when(event.received_time)), el("td", event.event), el("td", event.object_id),
    el("td", event.state.replace(/_/g, " ")), el("td", event.attempts), el("td", event.last_error, { class: "error" }));
  return row;
}

async function loadEvents(more = false) {
  const table = document.getElementById("events");
  table.setAttribute("aria-busy", "true"); // set before the first await: a later "false" is this load's
  try {
    await listEvents(more);
  } finally {
    table.setAttribute("aria-busy", "false");
  }
}

async function listEvents(more) {
  const state = document.getElementById("event-state").value;
  const since = document.getElementById("event-since").value;
  const query = new URLSearchParams({ state, since_hours: since, page_token: more ? eventsToken : "" });
  const listed = await api("GET", `/integrations/${encodeURIComponent(NAME)}/events?${query}`);
  const body = document.querySelector("#events tbody");
  const rows = listed.events.map(eventRow);
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  eventsToken = listed.next_page_token;
  document.getElementById("events-more").hidden = !eventsToken;
  if (!more) document.getElementById("events-result").textContent = `${listed.events.length} event(s) shown`;
}

async function showFailing() {
  const query = new URLSearchParams({ state: "failed", order: "oldest" });
  const listed = await api("GET", `/integrations/${encodeURIComponent(NAME)}/events?${query}`);
  const banner = document.getElementById("failing");
  if (!listed.events.length) {
    banner.hidden = true;
    return;
  }
  const oldest = listed.events[0].received_time;
  banner.textContent = `Webhook events have been failing since ${when(oldest)}: see the Events tab`;
  banner.hidden = false;
}

async function replaySelected() {
  const ids = [...document.querySelectorAll("#events tbody input:checked")].map((box) => box.value);
  const result = document.getElementById("events-result");
  if (!ids.length) {
    result.textContent = "Select the events to replay first";
    return;
  }
  try {
    const { replayed } = await api("POST", "/events/replay", { event_ids: ids });
    await loadEvents();
    await showFailing();
    result.textContent = `${replayed} event(s) queued again`;
  } catch (exc) {
    result.textContent = exc.message;
  }
}

// ---------------------------------------------------------------- analytics (inline SVG bars)

function bars(figure, days, value, failed) {
  const width = 600;
  const height = 140;
  const top = Math.max(1, ...days.map((day) => value(day)));
  const step = width / days.length;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("preserveAspectRatio", "none");
  const total = days.reduce((sum, day) => sum + value(day), 0);
  svg.setAttribute("aria-label", `${total.toLocaleString()} in the window; the busiest day ${top.toLocaleString()}`);
  const axis = document.createElementNS(SVG, "line");
  for (const [key, v] of Object.entries({ x1: 0, y1: height - 1, x2: width, y2: height - 1, class: "axis" })) axis.setAttribute(key, v);
  svg.append(axis);
  days.forEach((day, index) => {
    const amount = value(day);
    if (!amount) return;
    const bar = document.createElementNS(SVG, "rect");
    const tall = Math.max(2, (amount / top) * (height - 6));
    const bad = failed && failed(day) > 0;
    for (const [key, v] of Object.entries({ x: index * step + 1, y: height - tall, width: Math.max(1, step - 2), height: tall, class: bad ? "chart-bar failed" : "chart-bar" })) {
      bar.setAttribute(key, v);
    }
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${day.day}: ${amount.toLocaleString()}`;
    bar.append(title);
    svg.append(bar);
  });
  figure.replaceChildren(svg);
}

async function loadAnalytics() {
  const { days } = await api("GET", `/integrations/${encodeURIComponent(NAME)}/analytics`);
  bars(document.getElementById("chart-written"), days, (day) => day.objects_written, (day) => day.imports_failed);
  bars(document.getElementById("chart-events"), days, (day) => day.events_received, (day) => day.events_failed);
  const body = document.querySelector("#analytics tbody");
  body.replaceChildren(
    ...days
      .filter((day) => day.imports || day.events_received)
      .reverse()
      .map((day) => {
        const row = el("tr", null, { "data-testid": "analytics-row" });
        row.append(el("td", day.day), el("td", day.imports), el("td", day.objects_written.toLocaleString()),
          el("td", day.api_calls.toLocaleString()), el("td", day.rate_limit_waits), el("td", day.events_received),
          el("td", day.events_failed), el("td", `${day.latency_p50_seconds} s / ${day.latency_p95_seconds} s`));
        return row;
      }),
  );
}

// ---------------------------------------------------------------- settings

async function loadSettings() {
  if (!card) card = await api("GET", `/integrations/${encodeURIComponent(NAME)}`);
  document.getElementById("settings-endpoint").textContent = card.webhook_endpoint
    ? `${card.webhook_endpoint} (${card.webhooks.length} webhook(s) registered)`
    : "None: the server has no public webhook address (WEBHOOK_PUBLIC_URL)";
}

async function regenerate(event) {
  event.preventDefault();
  const button = document.getElementById("regenerate");
  const result = document.getElementById("settings-result");
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  result.textContent = "Regenerating…";
  try {
    const minutes = Number(document.getElementById("grace").value);
    const done = await api("POST", `/integrations/${encodeURIComponent(NAME)}/webhook-secret`, { grace_minutes: minutes });
    card = done.integration;
    result.textContent = `A new secret is in use; the old one is accepted until ${when(done.old_secret_expire_time)}`;
  } catch (exc) {
    result.textContent = exc.message;
  } finally {
    button.removeAttribute("aria-disabled");
  }
}

const LOADERS = {
  "tab-overview": () => loadOverview().catch((exc) => notice(exc.message)),
  "tab-imports": () => loadImports().catch((exc) => notice(exc.message)),
  "tab-events": () => loadEvents().catch((exc) => notice(exc.message)),
  "tab-analytics": () => loadAnalytics().catch((exc) => notice(exc.message)),
  "tab-settings": () => loadSettings().catch((exc) => notice(exc.message)),
};

async function main() {
  const project = `/orgs/${ORG}/projects/${PROJECT}`;
  document.getElementById("back").setAttribute("href", project);
  document.getElementById("scope").textContent = `Project ${decodeURIComponent(PROJECT)} · organisation ${decodeURIComponent(ORG)}`;
  for (const tab of tabs()) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", onTabKey);
  }
  document.getElementById("events-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    loadEvents().catch((exc) => notice(exc.message));
  });
  document.getElementById("events-more").addEventListener("click", () => loadEvents(true).catch((exc) => notice(exc.message)));
  document.getElementById("replay").addEventListener("click", replaySelected);
  document.getElementById("regenerate-form").addEventListener("submit", regenerate);
  try {
    await loadOverview();
    await showFailing();
  } catch (exc) {
    notice(`The integration could not be loaded: ${exc.message}`);
  }
  document.body.dataset.ready = "true";
}

main();
