// The Integration Gallery page. Talks only to this app's JSON API (same origin); builds the DOM with
// textContent, never innerHTML, so nothing from the server is ever parsed as markup.
"use strict";

const API = "/api" + window.location.pathname.replace(/\/+$/, "");
const api = apiAt(API); // api.js
const STATUS_TEXT = {
  unknown: "Not tested",
  unspecified: "Not tested",
  connected: "Connected",
  auth_failed: "Credentials rejected",
  error: "Connection error",
  needs_reauthorization: "Needs a new sign-in",
};
const KINDS = ["space", "folder", "list", "task", "person", "tag"];
const cards = new Map(); // integration name -> {element, data, watching}

function part(card, selector) {
  return card.element.querySelector(selector);
}

const IRREGULAR = { person: "people" };

function plural(count, word) {
  return `${count.toLocaleString()} ${count === 1 ? word : IRREGULAR[word] || word + "s"}`;
}

function countsText(counts) {
  const shown = KINDS.filter((kind) => counts[kind]).map((kind) => plural(counts[kind], kind));
  return shown.length ? shown.join(", ") : "nothing yet";
}

function removedText(removed) {
  // Any integration's kinds, as the server names them ("Task", "Issue"), largest first.
  const shown = Object.entries(removed)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, count]) => plural(count, kind.toLowerCase()));
  return shown.length ? shown.join(", ") : "nothing";
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function setResult(card, text, ok) {
  const result = part(card, ".result");
  result.textContent = text;
  if (ok === undefined) delete result.dataset.ok;
  else result.dataset.ok = String(ok);
}

function setBusy(button, busy) {
  button.setAttribute("aria-disabled", String(busy));
  button.dataset.busy = String(busy);
}

function isBusy(button) {
  return button.dataset.busy === "true";
}

// ---------------------------------------------------------------- rendering

function createCard(data) {
  const element = document.getElementById("card-template").content.firstElementChild.cloneNode(true);
  element.id = `integration-${data.name}`;
  element.setAttribute("aria-labelledby", `${element.id}-name`);
  const card = { element, data, watching: null };
  const name = part(card, ".name");
  name.id = `${element.id}-name`;
  const logo = part(card, ".logo");
  const fallback = part(card, ".logo-fallback");
  fallback.textContent = (data.display_name || data.name).charAt(0).toUpperCase();
  logo.addEventListener("error", () => {
    logo.hidden = true;
    fallback.hidden = false;
  });
  logo.src = `/static/logos/${encodeURIComponent(data.name)}.svg`;
  const details = part(card, ".details");
  details.href = `${window.location.pathname.replace(/\/+$/, "")}/integrations/${encodeURIComponent(data.name)}`;
  details.setAttribute("aria-label", `Details of ${data.display_name || data.name}`);
  for (const button of element.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => ACTIONS[button.dataset.action](card, button));
  }
  cards.set(data.name, card);
  updateCard(card, data);
  return card;
}

function updateCard(card, data) {
  card.data = data;
  const label = data.display_name || data.name;
  part(card, ".name").textContent = label;
  part(card, ".description").textContent = data.description;
  const toggle = part(card, '[data-action="toggle"]');
  toggle.setAttribute("aria-checked", String(data.enabled));
  toggle.setAttribute("aria-label", `${label} enabled`);
  part(card, '[data-action="configure"]').setAttribute("aria-label", `Configure ${label}`);
  part(card, '[data-action="test"]').setAttribute("aria-label", `Test connection to ${label}`);
  part(card, '[data-action="import"]').setAttribute("aria-label", `Start import from ${label}`);
  const sync = part(card, '[data-action="sync"]');
  sync.setAttribute("aria-label", `Sync the changes from ${label} since the last import`);
  sync.hidden = !data.last_import_time;  // the last full import: an incremental one starts from its watermarks
  sync.disabled = Boolean(card.watching);
  const reconnect = part(card, '[data-action="reconnect"]');
  reconnect.setAttribute("aria-label", `Reconnect ${label}`);
  reconnect.hidden = !(data.configured && data.connection_status === "needs_reauthorization");
  reconnect.disabled = !data.oauth_available;
  reconnect.title = data.oauth_available ? "" : "Signing in is not set up on this server";
  part(card, ".auth").textContent = !data.configured
    ? "nothing yet"
    : data.auth_method === "oauth"
      ? `sign-in (OAuth) · ${data.settings.api_token_hint}`
      : `API token ${data.settings.api_token_hint}`;

  const badge = part(card, ".badge");
  let state = data.configured ? data.connection_status : "not_configured";
  let text = data.configured ? STATUS_TEXT[state] || state : "Not configured";
  if (card.watching) [state, text] = ["importing", "Importing"];
  badge.dataset.state = state;
  badge.textContent = `${text} · ${data.enabled ? "on" : "off"}`;

  part(card, ".last-import").textContent = data.last_import_time
    ? `${when(data.last_import_time)}: ${countsText(data.totals)}`
    : "never";
  const hooks = data.webhooks;
  part(card, ".webhooks").textContent = !data.settings.auto_sync
    ? "off"
    : hooks.length === 0
      ? "on, no webhook registered yet"
      : hooks
          .map((hook) => `workspace ${hook.workspace_id}: ${hook.status} (${plural(hook.fail_count, "failure")})`)
          .join("; ");
}

function notice(text) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.hidden = !text;
}

async function refresh(card) {
  try {
    updateCard(card, await api("GET", `/integrations/${encodeURIComponent(card.data.name)}`));
  } catch (exc) {
    setResult(card, exc.message, false);
  }
}

// ---------------------------------------------------------------- actions

async function toggle(card, button) {
  if (isBusy(button)) return;
  if (card.data.enabled) {
    openDisable(card, button); // turning off asks what happens to the data
    return;
  }
  setBusy(button, true);
  const wanted = !card.data.enabled;
  button.setAttribute("aria-checked", String(wanted));
  try {
    const data = await api("PUT", `/integrations/${encodeURIComponent(card.data.name)}/enabled`, { enabled: wanted });
    updateCard(card, data);
    setResult(card, `${data.display_name} ${data.enabled ? "enabled" : "disabled"}`, true);
  } catch (exc) {
    button.setAttribute("aria-checked", String(card.data.enabled));
    setResult(card, exc.message, false);
  } finally {
    setBusy(button, false);
  }
}

async function testConnection(card, button) {
  if (isBusy(button)) return;
  setBusy(button, true);
  setResult(card, "Testing the connection…");
  try {
    const result = await api("POST", `/integrations/${encodeURIComponent(card.data.name)}/test`, {});
    const detail = result.ok
      ? `Connected as ${result.account} · ${plural(result.workspaces.length, "workspace")} · ${result.latency_ms} ms`
      : result.message;
    setResult(card, detail, result.ok);
    await refresh(card);
  } catch (exc) {
    setResult(card, exc.message, false);
  } finally {
    setBusy(button, false);
  }
}

async function startImport(card, button, mode = "full") {
  if (isBusy(button)) return;
  setBusy(button, true);
  try {
    const job = await api("POST", `/integrations/${encodeURIComponent(card.data.name)}/imports`, { mode });
    setResult(card, mode === "incremental" ? "Sync of the changes started" : "Import started");
    follow(card, job);
  } catch (exc) {
    setResult(card, exc.message, false);
    setBusy(button, false);
  }
}

// Sign-in: the gallery asks the server for the consent page's address and sends the browser there;
// the provider sends it back to /oauth/callback, which returns here with a one-line result.
async function startSignIn(card, button, showError) {
  if (isBusy(button)) return;
  setBusy(button, true);
  try {
    const started = await api("POST", `/integrations/${encodeURIComponent(card.data.name)}/authorizations`, {});
    const target = new URL(started.authorization_url);
    if (target.protocol !== "https:" && target.protocol !== "http:") {
      throw new Error("the server sent a sign-in address that is not a web page");
    }
    window.location.assign(target.href);
  } catch (exc) {
    showError(exc.message);
    setBusy(button, false);
  }
}

function reconnect(card, button) {
  return startSignIn(card, button, (message) => setResult(card, message, false));
}

async function showSignInResult() {
  let answer;
  try {
    answer = await api("GET", "/signin-result");
  } catch (exc) {
    return; // the cards still work; the result is a courtesy
  }
  const result = answer.result;
  const card = result && cards.get(result.name);
  if (!card) return;
  const ok = { connected: true, failed: false }[result.outcome];
  setResult(card, result.message, ok);
  part(card, ".result").dataset.outcome = result.outcome;
}

function showProgress(card, job) {
  const section = part(card, ".import");
  section.hidden = false;
  const bar = part(card, ".bar");
  const expected = card.data.totals.task || 0; // the last import's size, when there was one
  if (job.done) {
    bar.max = 1;
    bar.value = 1;
  } else if (expected > 0) {
    bar.max = expected;
    bar.value = Math.min(job.counters.task || 0, expected);
  } else {
    bar.removeAttribute("value"); // indeterminate until the first import tells us the size
  }
  const state = job.state.charAt(0).toUpperCase() + job.state.slice(1);
  const phase = job.done ? "" : ` · ${job.phase || "starting"}`;
  part(card, ".import-text").textContent =
    `${state}${phase} · ${countsText(job.counters)} · ${plural(job.api_calls, "API call")}` +
    (job.error ? ` · ${job.error}` : "");
  part(card, ".import").dataset.state = job.state;
}

function follow(card, job) {
  const button = part(card, '[data-action="import"]');
  setBusy(button, true);
  if (card.watching) card.watching.close();
  showProgress(card, job);
  const source = new EventSource(`${API}/imports/${encodeURIComponent(job.id)}/events`);
  card.watching = source;
  updateCard(card, card.data);
  source.addEventListener("progress", (event) => showProgress(card, JSON.parse(event.data)));
  source.addEventListener("end", async (event) => {
    source.close();
    card.watching = null;
    const final = JSON.parse(event.data);
    showProgress(card, final);
    setResult(
      card,
      final.state === "succeeded" ? `Import succeeded: ${countsText(final.counters)}` : `Import ${final.state}: ${final.error}`,
      final.state === "succeeded",
    );
    setBusy(button, false);
    await refresh(card);
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED && card.watching === source) {
      card.watching = null;
      setBusy(button, false);
      setResult(card, "Lost the import's progress; reload the page to follow it again", false);
    }
  });
}

// ---------------------------------------------------------------- the configuration dialog

const dialog = () => document.getElementById("configure");
let configuring = null; // {card, opener}

function openConfigure(card, opener) {
  configuring = { card, opener };
  const data = card.data;
  const form = document.getElementById("configure-form");
  form.reset();
  clearErrors();
  document.getElementById("configure-title").textContent = `Configure ${data.display_name || data.name}`;
  const hint = data.settings.api_token_hint;
  document.getElementById("api-token-help").textContent = hint
    ? `A token is stored (${hint}). Leave this empty to keep it.`
    : "Your personal API token; it is checked when you save and never shown again.";
  renderOptions(data);
  document.getElementById("auto-sync").checked = data.settings.auto_sync;
  document.getElementById("sync-interval").value = String(data.settings.sync_interval_minutes);
  const label = data.display_name || data.name;
  const connect = document.getElementById("oauth-connect");
  connect.textContent = `Connect with ${label}`;
  connect.disabled = !data.oauth_available;
  setBusy(connect, false);
  document.getElementById("oauth-help").textContent = !data.oauth_available
    ? `Signing in to ${label} is not set up on this server (no OAuth app); use an API token.`
    : data.auth_method === "oauth"
      ? `Connected by signing in. Connect again to choose other workspaces.`
      : `Sign in on ${label}'s page and choose the workspaces to import; the token stays on the server.`;
  dialog().showModal();
  document.getElementById("api-token").focus();
}

function clearErrors() {
  for (const node of dialog().querySelectorAll(".field-error, .form-error")) node.textContent = "";
  for (const node of dialog().querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

async function saveConfigure(event) {
  event.preventDefault();
  if (!configuring) return;
  clearErrors();
  const { card } = configuring;
  const intervalText = document.getElementById("sync-interval").value.trim();
  const body = {
    auto_sync: document.getElementById("auto-sync").checked,
    sync_interval_minutes: intervalText === "" ? 0 : Number(intervalText),
  };
  const token = document.getElementById("api-token").value;
  if (token.trim()) body.api_token = token;
  const local = {};
  if (!Number.isInteger(body.sync_interval_minutes)) local.sync_interval_minutes = "must be a whole number of minutes";
  const options = readOptions(card.data, local);
  if (Object.keys(options).length) body.options = options;
  if (showFieldErrors(local) > 0) return;
  const save = dialog().querySelector('button[type="submit"]');
  save.disabled = true;
  try {
    const data = await api("PATCH", `/integrations/${encodeURIComponent(card.data.name)}/settings`, body);
    updateCard(card, data);
    closeConfigure();
    setResult(card, `Settings saved${body.api_token ? "; the new token was verified" : ""}`, true);
  } catch (exc) {
    if (showFieldErrors(exc.fields) === 0) document.getElementById("configure-error").textContent = exc.message;
  } finally {
    save.disabled = false;
  }
}

// Shows each {field: message} next to its input and focuses the first; returns how many were shown.
// The server names one item of a list ("options.project_keys[2]"): shown on the list's input.
function showFieldErrors(fields) {
  let shown = 0;
  for (const [field, message] of Object.entries(fields)) {
    const item = /^(.*)\[(\d+)\]$/.exec(field);
    const [name, text] = item ? [item[1], `item ${Number(item[2]) + 1}: ${message}`] : [field, message];
    const target = dialog().querySelector(`.field-error[data-field="${CSS.escape(name)}"]`);
    if (!target) continue;
    target.textContent = target.textContent ? `${target.textContent}; ${text}` : text;
    const input = dialog().querySelector(`[name="${CSS.escape(name)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      if (shown === 0) input.focus();
    }
    shown += 1;
  }
  return shown;
}

// ---------------------------------------------------------------- options, from the integration's schema
// One input per property of card.options_schema (string, integer, list of strings, boolean); the page
// knows no integration by name. Only options the user changed are sent; an emptied one goes back to
// the integration's default.

const ACRONYMS = { api: "API", id: "ID", ids: "IDs", uri: "URI", url: "URL" };

function optionLabel(key) {
  const words = key.split("_").filter(Boolean).map((word) => ACRONYMS[word] || word);
  if (words.length === 0) return key;
  words[0] = words[0].charAt(0).toUpperCase() + words[0].slice(1);
  return words.join(" ");
}

function optionProperties(data) {
  return (data.options_schema && data.options_schema.properties) || {};
}

// The value the form shows for what is stored (absent means the integration's default).
function storedOption(prop, value) {
  if (prop.type === "boolean") return value === true;
  if (prop.type === "integer") return Number.isInteger(value) ? value : null;
  if (prop.type === "array") return Array.isArray(value) ? value.map(String) : [];
  return typeof value === "string" ? value : "";
}

function optionHelp(prop) {
  const parts = [];
  if (prop.description) parts.push(prop.description);
  if (prop.type === "array") {
    parts.push(`Separate values with commas${prop.maxItems ? ` (at most ${prop.maxItems})` : ""}.`);
  }
  if (prop.type === "integer" && (prop.minimum !== undefined || prop.maximum !== undefined)) {
    parts.push(`A whole number from ${prop.minimum ?? "any"} to ${prop.maximum ?? "any"}; empty uses the default.`);
  }
  return parts.join(" ");
}

function optionField(key, prop, value) {
  const id = `option-${key}`;
  const wrap = document.createElement("div");
  wrap.className = "option";
  const input = document.createElement("input");
  input.id = id;
  input.name = `options.${key}`;
  input.dataset.option = key;
  input.setAttribute("data-testid", id);
  const label = document.createElement("label");
  label.htmlFor = id;
  const help = document.createElement("p");
  help.className = "help";
  help.id = `${id}-help`;
  help.textContent = optionHelp(prop);
  const error = document.createElement("p");
  error.className = "field-error";
  error.id = `${id}-error`;
  error.dataset.field = `options.${key}`;
  input.setAttribute("aria-describedby", `${help.id} ${error.id}`);
  const shown = storedOption(prop, value);
  if (prop.type === "boolean") {
    input.type = "checkbox";
    input.checked = shown;
    label.className = "check";
    label.append(input, ` ${optionLabel(key)}`);
    wrap.append(label, help, error);
    return wrap;
  }
  label.textContent = optionLabel(key);
  input.autocomplete = "off";
  input.spellcheck = false;
  if (prop.type === "integer") {
    input.type = "number";
    input.step = "1";
    input.inputMode = "numeric";
    if (prop.minimum !== undefined) input.min = String(prop.minimum);
    if (prop.maximum !== undefined) input.max = String(prop.maximum);
    input.value = shown === null ? "" : String(shown);
  } else if (prop.type === "array") {
    input.type = "text";
    input.placeholder = "A, B";
    input.value = shown.join(", ");
  } else {
    input.type = { uri: "url", email: "email" }[prop.format] || "text";
    if (prop.format === "uri") input.placeholder = "https://";
    input.value = shown;
  }
  wrap.append(label, input, help, error);
  return wrap;
}

function renderOptions(data) {
  const properties = optionProperties(data);
  const keys = Object.keys(properties);
  const fields = document.getElementById("option-fields");
  fields.replaceChildren(...keys.map((key) => optionField(key, properties[key], (data.options || {})[key])));
  document.getElementById("options-title").textContent = `${data.display_name || data.name} options`;
  document.getElementById("options").hidden = keys.length === 0;
}

// A JSON Schema pattern is an ECMAScript regular expression, unanchored; one that cannot be compiled
// here is left to the server.
function matches(pattern, text) {
  if (!pattern) return true;
  try {
    return new RegExp(pattern, "u").test(text);
  } catch (exc) {
    return true;
  }
}

// The changed options as the body's {key: value}; problems found here go into `errors`.
function readOptions(data, errors) {
  const changed = {};
  for (const [key, prop] of Object.entries(optionProperties(data))) {
    const input = document.getElementById(`option-${key}`);
    if (!input) continue;
    const field = `options.${key}`;
    let value;
    if (prop.type === "boolean") {
      value = input.checked;
    } else if (prop.type === "integer") {
      const text = input.value.trim();
      value = text === "" ? null : Number(text);
      if (value !== null && !Number.isInteger(value)) errors[field] = "must be a whole number";
    } else if (prop.type === "array") {
      value = input.value.split(/[\s,]+/).filter(Boolean);
      const pattern = prop.items && prop.items.pattern;
      const wrong = value.filter((item) => !matches(pattern, item));
      if (prop.maxItems && value.length > prop.maxItems) errors[field] = `at most ${prop.maxItems} values`;
      else if (wrong.length) errors[field] = `not in the expected form: ${wrong.join(", ")}`;
    } else {
      value = input.value.trim();
      if (value && !matches(prop.pattern, value)) errors[field] = "is not in the expected form";
    }
    if (JSON.stringify(value) !== JSON.stringify(storedOption(prop, (data.options || {})[key]))) {
      changed[key] = value;
    }
  }
  return changed;
}

function closeConfigure() {
  dialog().close();
}

// ---------------------------------------------------------------- disable: keep or delete the data

const disableDialog = () => document.getElementById("disable");
let disabling = null; // {card, opener}

function deleting() {
  return document.querySelector('#disable-form input[name="data_policy"]:checked').value === "delete";
}

function showDisableChoice() {
  const name = disabling ? disabling.card.data.name : "";
  const remove = deleting();
  document.getElementById("disable-confirm").hidden = !remove;
  document.getElementById("disable-submit").textContent = remove ? "Disable and delete the data" : "Disable";
  document.getElementById("disable-name-label").textContent = `Type ${name} to confirm`;
}

function openDisable(card, opener) {
  disabling = { card, opener };
  const form = document.getElementById("disable-form");
  form.reset();
  document.getElementById("disable-error").textContent = "";
  const label = card.data.display_name || card.data.name;
  document.getElementById("disable-title").textContent = `Disable ${label}`;
  document.getElementById("disable-warning").textContent =
    `Every node and relationship ${label} imported into this project is removed; other projects keep theirs.`;
  showDisableChoice();
  disableDialog().showModal();
  form.querySelector('input[name="data_policy"]:checked').focus();
}

async function submitDisable(event) {
  event.preventDefault();
  if (!disabling) return;
  const { card } = disabling;
  const remove = deleting();
  const confirmName = document.getElementById("disable-name").value.trim();
  const error = document.getElementById("disable-error");
  if (remove && confirmName !== card.data.name) {
    error.textContent = `Type ${card.data.name} exactly to delete its data.`;
    document.getElementById("disable-name").focus();
    return;
  }
  const submit = document.getElementById("disable-submit");
  if (isBusy(submit)) return;
  setBusy(submit, true);
  try {
    const body = { data_policy: remove ? "delete" : "keep", confirm_name: remove ? confirmName : "" };
    const done = await api("POST", `/integrations/${encodeURIComponent(card.data.name)}/disable`, body);
    updateCard(card, done.integration);
    disableDialog().close();
    if (done.deletion) {
      followDeletion(card, done.deletion);
    } else {
      setResult(card, `${done.integration.display_name} disabled; its data is kept`, true);
    }
  } catch (exc) {
    error.textContent = exc.message;
  } finally {
    setBusy(submit, false);
  }
}

async function followDeletion(card, deletion) {
  const label = card.data.display_name || card.data.name;
  let current = deletion;
  while (!current.done) {
    const removed = Object.values(current.removed).reduce((sum, n) => sum + n, 0);
    setResult(card, `${label} disabled; deleting its data: ${plural(removed, "node")} removed`, true);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    try {
      current = await api("GET", `/deletions/${encodeURIComponent(current.id)}`);
    } catch (exc) {
      setResult(card, `The deletion could not be followed: ${exc.message}`, false);
      return;
    }
  }
  if (current.state === "succeeded") {
    setResult(card, `${label} disabled; its data was deleted: ${removedText(current.removed)}`, true);
  } else {
    setResult(card, `${label} disabled; deleting its data ${current.state}: ${current.error || "stopped"}`, false);
  }
}

const ACTIONS = {
  toggle,
  configure: openConfigure,
  test: testConnection,
  import: (card, button) => startImport(card, button, "full"),
  sync: (card, button) => startImport(card, button, "incremental"),
  reconnect,
};

// ---------------------------------------------------------------- start

async function main() {
  const [, , org, , project] = window.location.pathname.split("/");
  document.getElementById("scope").textContent = `Project ${decodeURIComponent(project)} · organisation ${decodeURIComponent(org)}`;
  document.getElementById("configure-form").addEventListener("submit", saveConfigure);
  document.getElementById("configure-cancel").addEventListener("click", closeConfigure);
  document.getElementById("oauth-connect").addEventListener("click", (event) => {
    if (!configuring) return;
    startSignIn(configuring.card, event.currentTarget, (message) => {
      document.getElementById("configure-error").textContent = message;
    });
  });
  document.getElementById("use-token").addEventListener("click", () => document.getElementById("api-token").focus());
  document.getElementById("disable-form").addEventListener("submit", submitDisable);
  document.getElementById("disable-form").addEventListener("change", showDisableChoice);
  document.getElementById("disable-cancel").addEventListener("click", () => disableDialog().close());
  disableDialog().addEventListener("close", () => {
    if (disabling) disabling.opener.focus();
    disabling = null;
  });
  dialog().addEventListener("close", () => {
    document.getElementById("api-token").value = ""; // never keep a typed token around
    if (configuring) configuring.opener.focus();
    configuring = null;
  });
  let listed;
  try {
    listed = await api("GET", "/integrations");
  } catch (exc) {
    notice(`The integrations could not be loaded: ${exc.message}`);
    return;
  }
  const grid = document.getElementById("cards");
  for (const data of listed.integrations) grid.append(createCard(data).element);
  grid.setAttribute("aria-busy", "false");
  await showSignInResult();
  for (const card of cards.values()) {
    try {
      const { job } = await api("GET", `/integrations/${encodeURIComponent(card.data.name)}/imports/latest`);
      if (job && !job.done) follow(card, job);
    } catch (exc) {
      setResult(card, exc.message, false);
    }
  }
  document.body.dataset.ready = "true";
}

main();
