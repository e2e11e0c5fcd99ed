// One integration's detail page: overview, import history, the project's webhook events with replay,
// per-day analytics drawn as inline SVG, and settings (the webhook secret, the custom-field mapping).
// Talks only to this app's JSON API; builds the DOM with textContent and DOM methods, never innerHTML.
"use strict";

const [, , ORG, , PROJECT, , NAME] = window.location.pathname.replace(/\/+$/, "").split("/");
const API = `/api/orgs/${ORG}/projects/${PROJECT}`;
const SVG = "http://www.w3.org/2000/svg";
let card = null;
let eventsToken = "";
let remapTimer = null; // the pending poll of a re-map job (one at a time)

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
      const state = job.kind === "field_remap" ? `${job.state} (field re-map)` : job.state;
      row.append(el("td", when(job.create_time)), el("td", state), el("td", took(job)),
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

// ---------------------------------------------------------------- custom fields (Settings tab)

// The type words the API takes, with what the page calls them; "natural" is the field's own type.
const FIELD_TYPES = [
  ["natural", ""],
  ["string", "Text"],
  ["number", "Number"],
  ["boolean", "Yes or no"],
  ["datetime", "Date and time"],
  ["string_list", "List of text"],
];
let fieldsShown = []; // the fields in table order, as last listed or saved
let staleRules = []; // rules of fields the provider no longer lists: sent back as they are

function typeName(word) {
  const found = FIELD_TYPES.find(([value]) => value === word);
  return found && found[1] ? found[1].toLowerCase() : word;
}

function fieldsStatus(text, ok) {
  const result = document.getElementById("fields-result");
  result.textContent = text;
  if (ok === undefined) result.removeAttribute("data-ok");
  else result.dataset.ok = String(ok);
}

function fieldRow(field, index, fields) {
  const id = `field-${index}`;
  const row = el("tr", null, { "data-testid": "field-row", "data-field-id": field.id });
  // Fields of one name (ClickUp: one per space) are told apart by their id, on screen and in labels.
  const twin = fields.some((other) => other !== field && other.name === field.name);
  const shown = twin ? `${field.name} (${field.id})` : field.name;
  const name = el("th", field.name, { scope: "row" });
  name.append(el("span", twin ? `on ${field.kind} · id ${field.id}` : `on ${field.kind}`, { class: "help" }));

  const property = el("input", null, {
    type: "text", id: `${id}-property`, name: "property", placeholder: field.default_property,
    autocomplete: "off", autocapitalize: "off", spellcheck: "false", maxlength: "64",
    "aria-describedby": `${id}-error`,
  });
  property.value = field.rule.property;
  const propertyCell = el("td");
  propertyCell.append(
    el("label", `Property for ${shown}`, { for: property.id, class: "sr-only" }),
    property,
    el("p", "", { class: "field-error", id: `${id}-error` }),
  );

  const type = el("select", null, { id: `${id}-type`, name: "type" });
  for (const [word, label] of FIELD_TYPES) {
    type.append(el("option", word === "natural" ? `As read (${typeName(field.natural_type)})` : label, { value: word }));
  }
  type.value = field.rule.type;
  const typeCell = el("td");
  typeCell.append(el("label", `Type of ${shown}`, { for: type.id, class: "sr-only" }), type);

  const skip = el("input", null, { type: "checkbox", id: `${id}-skip`, name: "skip" });
  skip.checked = field.rule.skip;
  const skipCell = el("td");
  skipCell.append(el("label", `Skip ${shown}`, { for: skip.id, class: "sr-only" }), skip);

  row.append(name, el("td", field.provider_type), propertyCell, typeCell, skipCell);
  return row;
}

function showFields(fields, empty = "This integration has no custom fields (or none in the workspaces it reaches)") {
  // Re-drawn after a save: focus stays on the control it was on (the ids follow the table order).
  const focused = document.activeElement && document.activeElement.id;
  fieldsShown = fields;
  const body = document.querySelector("#fields tbody");
  body.replaceChildren(...fields.map((field, index) => fieldRow(field, index, fields)));
  if (!fields.length) {
    const row = el("tr");
    row.append(el("td", empty, { colspan: "5" }));
    body.append(row);
  }
  document.getElementById("fields-save").hidden = !fields.length;
  const again = focused && document.getElementById(focused);
  if (again && again !== document.activeElement) again.focus();
}

function remapText(job) {
  const counted = Object.entries(job.counters || {}).sort((a, b) => b[1] - a[1]);
  const written = counted.length
    ? `: ${counted.map(([what, n]) => `${n.toLocaleString()} ${what.replace(/_/g, " ")}`).join(", ")}`
    : "";
  if (!job.done) return `Re-mapping the nodes already imported: ${job.state}${written}…`;
  if (job.state === "succeeded") return `Re-map succeeded${written}`;
  return `Re-map ${job.state}${job.error ? `: ${job.error}` : ""}`;
}

function followRemap(job) {
  clearTimeout(remapTimer);
  fieldsStatus(remapText(job), job.done ? job.state === "succeeded" : undefined);
  if (job.done) return;
  remapTimer = setTimeout(async () => {
    try {
      followRemap(await api("GET", `/imports/${encodeURIComponent(job.id)}`));
    } catch (exc) {
      fieldsStatus(`The re-map's progress could not be read: ${exc.message}`, false);
    }
  }, 1000);
}

// Listed when the section is opened (and each time again): listing asks the provider, a call per list.
async function loadFields() {
  let listed;
  fieldsStatus("Listing the custom fields…");
  try {
    listed = await api("GET", `/integrations/${encodeURIComponent(NAME)}/fields`);
  } catch (exc) {
    showFields([], "The custom fields cannot be listed now");
    fieldsStatus(exc.message, false);
    return;
  }
  showFields(listed.fields);
  staleRules = listed.stale_mappings;
  const stale = document.getElementById("fields-stale");
  stale.textContent = `Also kept: the mapping of ${staleRules.length} field(s) the provider no longer lists.`;
  stale.hidden = !staleRules.length;
  const job = listed.remap_job;
  if (job && !job.done) followRemap(job);
  else if (job) fieldsStatus(`Last re-map ${job.state}, ${when(job.finish_time || job.create_time)}`);
  else fieldsStatus("");
}

function mappingsFromTable() {
  const rows = [...document.querySelectorAll("#fields tbody tr[data-field-id]")];
  const mappings = [];
  for (const row of rows) {
    const rule = {
      field_id: row.dataset.fieldId,
      property: row.querySelector('[name="property"]').value.trim(),
      type: row.querySelector('[name="type"]').value,
      skip: row.querySelector('[name="skip"]').checked,
    };
    if (rule.property || rule.type !== "natural" || rule.skip) mappings.push(rule); // else: the default
  }
  return mappings.concat(staleRules);
}

function showFieldErrors(exc, sent) {
  // The server (and the gallery) name a field by its path in what was sent: mappings[2].property.
  const lines = [];
  let first = null;
  for (const [path, message] of Object.entries(exc.fields)) {
    const match = /^mappings\[(\d+)\](?:\.(\w+))?$/.exec(path);
    const index = match ? fieldsShown.findIndex((field) => field.id === (sent[Number(match[1])] || {}).field_id) : -1;
    if (index < 0) {
      lines.push(`${path}: ${message}`);
      continue;
    }
    const part = match[2] === "type" || match[2] === "skip" ? match[2] : "property";
    const input = document.getElementById(`field-${index}-${part}`);
    input.setAttribute("aria-invalid", "true");
    if (part === "property") document.getElementById(`field-${index}-error`).textContent = message;
    lines.push(`${fieldsShown[index].name} (${path}): ${message}`);
    first = first || input;
  }
  fieldsStatus(lines.length ? `Not saved: ${lines.join("; ")}` : `Not saved: ${exc.message}`, false);
  if (first) first.focus();
}

async function saveFields(event) {
  event.preventDefault();
  const button = document.getElementById("fields-save");
  if (button.getAttribute("aria-disabled") === "true") return;
  for (const node of document.querySelectorAll('#fields [aria-invalid="true"]')) node.removeAttribute("aria-invalid");
  for (const node of document.querySelectorAll("#fields .field-error")) node.textContent = "";
  const mappings = mappingsFromTable();
  button.setAttribute("aria-disabled", "true");
  fieldsStatus("Saving…");
  try {
    const saved = await api("PUT", `/integrations/${encodeURIComponent(NAME)}/fields`, { mappings });
    showFields(saved.fields);
    if (saved.remap_job) followRemap(saved.remap_job);
    else fieldsStatus("Saved: nothing changed, so nothing to re-map", true);
  } catch (exc) {
    showFieldErrors(exc, mappings);
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
  document.getElementById("fields-form").addEventListener("submit", saveFields);
  document.getElementById("fields-section").addEventListener("toggle", (event) => {
    if (event.currentTarget.open) loadFields();
  });
  try {
    await loadOverview();
    await showFailing();
  } catch (exc) {
    notice(`The integration could not be loaded: ${exc.message}`);
  }
  document.body.dataset.ready = "true";
}

main();
