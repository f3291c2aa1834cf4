// #/agents/<name>: one agent's definition (metadata, schemas, system prompt) and a form to try it, with
// the answer as JSON or streamed.

import { ApiError, api, can, session, stream } from "../api.js";
import { card, clear, errorBox, fmt, h, pageHeader, table } from "../dom.js";
import { labelFor, schemaForm, schemaRows } from "../schemaform.js";
import { versionsCard } from "../versions.js";

const enc = encodeURIComponent;

export async function render(root, { params, signal }) {
  const name = params.name;
  const [agent, categories] = await Promise.all([
    api(`/v1/agents/${enc(name)}`, { signal }),
    api("/v1/categories", { signal }).catch(() => []),
  ]);
  if (signal.aborted) return;
  const category = categories.find((c) => c.id === agent.category);
  const categoryTitle = category?.title ?? agent.category;
  root.append(
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" },
      h("ol", {},
        h("li", {}, h("a", { href: "#/agents" }, "Marketplace")),
        h("li", {}, h("a", { href: `#/agents?category=${enc(agent.category)}` }, categoryTitle)),
        h("li", {}, h("span", { "aria-current": "page" }, agent.name)))),
    pageHeader(agent.name, agent.description),
    detailsCard(agent, categoryTitle),
    tryItCard(agent, categoryTitle, signal),
    versionsCard(agent.name, { signal }),
    schemaCard("Input schema", "input", agent.input_schema),
    schemaCard("Output schema", "output", agent.output_schema));
}

// -- the definition -----------------------------------------------------------------------------------

function definitionList(entries) {
  return h("dl", { class: "meta-list" }, entries.filter(Boolean).map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function orDefault(value) {
  return value === null || value === undefined ? h("span", { class: "muted" }, "platform default") : String(value);
}

function detailsCard(agent, categoryTitle) {
  const model = agent.model ?? {};
  const guard = agent.guardrails ?? {};
  const topics = guard.blocked_topics ?? [];
  return card("About this agent",
    h("div", { class: "grid grid-2 agent-about" },
      definitionList([
        ["Category", h("a", { href: `#/agents?category=${enc(agent.category)}` }, categoryTitle)],
        ["Version", agent.version],
        ["Tags", agent.tags?.length
          ? h("ul", { class: "tag-list" }, agent.tags.map((t) => h("li", {}, h("a", { href: `#/agents?tag=${enc(t)}` }, t))))
          : h("span", { class: "muted" }, "none")],
      ]),
      definitionList([
        ["Model", model.provider == null && model.name == null
          ? orDefault(null) : [orDefault(model.provider), " / ", orDefault(model.name)]],
        model.max_tokens != null || model.temperature != null
          ? ["Limits", `max tokens ${model.max_tokens ?? "default"}, temperature ${model.temperature ?? "default"}`] : null,
        ["PII handling", [orDefault(guard.pii), guard.scan_input ? " (input scanned too)" : " (output only)"]],
        ["Blocked topics", topics.length ? topics.join(", ") : h("span", { class: "muted" }, "none")],
      ])),
    h("details", { class: "disclosure" },
      h("summary", {}, "System prompt"),
      h("pre", { class: "code prompt" }, agent.system_prompt)));
}

function schemaTable(schema, caption) {
  return table([
    { label: "Property", value: (r) => h("span", { class: `prop-name depth-${Math.min(r.depth, 4)}` },
      r.depth ? h("span", { "aria-hidden": "true", class: "muted" }, "↳ ") : null, h("code", {}, r.name)) },
    { label: "Type", value: (r) => r.type },
    { label: "Required", value: (r) => (r.required ? h("strong", {}, "yes") : h("span", { class: "muted" }, "no")) },
    { label: "Allowed values", value: (r) => r.allowed || h("span", { class: "muted" }, "—") },
    { label: "Default", value: (r) => (r.default === undefined ? h("span", { class: "muted" }, "—") : h("code", {}, JSON.stringify(r.default))) },
    { label: "Description", value: (r) => r.description },
  ], schemaRows(schema), { caption, empty: "No properties." });
}

function schemaCard(title, id, schema) {
  return h("section", { class: "card", "aria-labelledby": `schema-${id}` },
    h("h2", { id: `schema-${id}` }, title),
    schemaTable(schema, h("span", { class: "visually-hidden" }, `${title}: properties`)),
    h("details", { class: "disclosure" },
      h("summary", {}, "Raw JSON"),
      h("pre", { class: "code" }, JSON.stringify(schema, null, 2))));
}

// -- try it -------------------------------------------------------------------------------------------

function tryItCard(agent, categoryTitle, signal) {
  const form = schemaForm(agent.input_schema, { idPrefix: "try" });
  const streamBox = h("input", { type: "checkbox", id: "try-stream" });
  const run = h("button", { type: "submit", class: "btn btn-primary" }, "Run");
  const status = h("p", { class: "run-status", role: "status", "aria-live": "polite" });
  const output = h("div", { class: "run-output" });
  const allowed = can("agents:invoke");

  const element = h("form", { class: "try-form", novalidate: true, "aria-label": `Try ${agent.name}` },
    form.element,
    h("div", { class: "field sf-check" }, h("div", { class: "sf-check-row" }, streamBox,
      h("label", { for: "try-stream" }, "Stream the answer"))),
    h("div", { class: "form-actions" }, run, status));

  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (run.disabled) return;
    const problems = form.validate();
    if (problems.length) {
      status.textContent = `Check the input: ${problems.length} ${problems.length === 1 ? "problem" : "problems"} marked.`;
      focusFirstError(form.element);
      return;
    }
    const body = { input: form.value() };
    run.disabled = true;
    output.setAttribute("aria-busy", "true");
    clear(output);
    try {
      if (streamBox.checked) await runStreaming(agent, body, { status, output, signal });
      else await runJson(agent, body, { status, output, signal });
    } catch (err) {
      if (signal.aborted) return;
      showFailure(err, { form, status, output, agent, categoryTitle });
    } finally {
      run.disabled = !allowed;
      output.removeAttribute("aria-busy");
    }
  });

  if (!allowed) run.disabled = true;
  return h("section", { class: "card try-it", "aria-labelledby": "try-title" },
    h("h2", { id: "try-title" }, "Try it"),
    allowed ? null : h("p", { class: "alert alert-info" },
      `Your role (${session?.role ?? "unknown"}) may read agents but not invoke them.`),
    element,
    output);
}

function focusFirstError(container) {
  container.querySelector("[aria-invalid='true']")?.focus();
}

async function runJson(agent, body, { status, output, signal }) {
  status.textContent = `Running ${agent.name}…`;
  const answer = await api(`/v1/agents/${enc(agent.name)}/invoke`, { method: "POST", body, signal });
  output.append(resultView(answer));
  status.textContent = `Done in ${fmt.ms(answer.latency_ms)}.`;
}

async function runStreaming(agent, body, { status, output, signal }) {
  status.textContent = `Running ${agent.name}, streaming…`;
  const text = h("pre", { class: "code stream-text" });
  let received = "";
  for await (const { event, data } of stream(`/v1/agents/${enc(agent.name)}/invoke?stream=true`, { method: "POST", body, signal })) {
    if (event === "chunk") {
      if (!text.isConnected) output.append(h("div", { class: "stream-live" }, h("h3", {}, "Answer so far"), text));
      received += data?.text ?? "";
      text.textContent = received;
      status.textContent = `Receiving the answer… ${fmt.number(received.length)} characters so far.`;
    } else if (event === "result") {
      clear(output).append(resultView(data, received));
      status.textContent = `Done in ${fmt.ms(data.latency_ms)} (streamed).`;
      return;
    } else if (event === "error") {
      throw new ApiError(0, data);
    }
  }
  throw new Error("The stream ended without a result.");
}

function showFailure(err, { form, status, output, agent, categoryTitle }) {
  if (err instanceof ApiError && err.status === 422 && Array.isArray(err.details) && err.details.length) {
    form.setErrors(err.details);
    status.textContent = `The input was refused: ${err.details.length} ${err.details.length === 1 ? "problem" : "problems"} marked on the form.`;
    output.append(errorBox(err));
    focusFirstError(form.element);
    return;
  }
  if (err instanceof ApiError && err.status === 403) {
    status.textContent = "Not allowed.";
    output.append(h("div", { class: "alert alert-error", role: "alert" },
      h("strong", {}, "You may not run this agent. "),
      `Your role (${session?.role ?? "unknown"}) is not allowed to invoke agents of the ${categoryTitle} category`,
      ` (${agent.name}). Ask an administrator for a role that may.`,
      h("br"), err.message));
    return;
  }
  status.textContent = "The call failed.";
  output.append(errorBox(err));
}

// -- the answer ---------------------------------------------------------------------------------------

/** An agent's output as nested lists of keys and values. */
function valueView(value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "muted" }, "(none)");
    const scalar = value.every((v) => v === null || typeof v !== "object");
    return h(scalar ? "ul" : "ol", { class: "output-list" }, value.map((v) => h("li", {}, valueView(v))));
  }
  if (typeof value === "object") {
    const entries = Object.entries(value);
    if (!entries.length) return h("span", { class: "muted" }, "(empty)");
    return h("dl", { class: "output-dl" }, entries.map(([k, v]) => [
      h("dt", {}, labelFor(k), h("code", { class: "output-key muted" }, k)),
      h("dd", {}, valueView(v)),
    ]));
  }
  if (typeof value === "string" && value.includes("\n")) return h("div", { class: "output-text" }, value);
  return String(value);
}

function usageView(answer) {
  const redactions = Object.entries(answer.redactions ?? {}).filter(([, n]) => n);
  const stat = (label, value, note) => h("div", { class: "stat" },
    h("span", { class: "stat-label" }, label), h("span", { class: "stat-value" }, value),
    note ? h("span", { class: "stat-note" }, note) : null);
  return h("div", { class: "usage" },
    h("div", { class: "grid grid-4 usage-stats" },
      stat("Tokens in", fmt.number(answer.usage?.input_tokens)),
      stat("Tokens out", fmt.number(answer.usage?.output_tokens)),
      stat("Latency", fmt.ms(answer.latency_ms)),
      stat("Attempts", fmt.number(answer.attempts))),
    definitionList([
      ["Provider / model", `${answer.provider} / ${answer.model}`],
      ["Request id", h("code", {}, answer.request_id)],
      redactions.length ? ["Redactions", redactions.map(([k, n]) => `${k}: ${n}`).join(", ")] : null,
    ]));
}

function resultView(answer, streamed) {
  return h("section", { class: "run-result", "aria-labelledby": "result-title" },
    h("h3", { id: "result-title" }, "Output"),
    h("div", { class: "output-view" }, valueView(answer.output)),
    h("details", { class: "disclosure" },
      h("summary", {}, "Raw JSON"),
      h("pre", { class: "code" }, JSON.stringify(answer, null, 2))),
    streamed ? h("details", { class: "disclosure" },
      h("summary", {}, "Streamed text"),
      h("pre", { class: "code" }, streamed)) : null,
    h("h3", {}, "Usage"),
    usageView(answer));
}
