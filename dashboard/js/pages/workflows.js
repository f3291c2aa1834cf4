// #/workflows: every workflow with its recent runs. #/workflows/<name>: one workflow's graph and steps, a
// form to start a run from its input schema, and its recent runs.

import { ApiError, api, can } from "../api.js";
import { dagView, layers, workflowGraph } from "../dag.js";
import { badge, errorBox, fmt, h, pageHeader, spinner, table, timeAgo } from "../dom.js";
import { schemaForm } from "../schemaform.js";

const enc = encodeURIComponent;
const RECENT = 5;

/** Renders the list of workflows, or one workflow when the route names it. */
export async function render(root, { params, query, signal }) {
  if (params.name) return renderOne(root, params.name, query, signal);
  return renderList(root, signal);
}

// -- helpers shared by both views ------------------------------------------------------------------------

/** "1 min 5 s" between two instants (ISO strings or ms), or "–". */
function duration(start, end) {
  if (!start) return "–";
  const ms = new Date(end ?? Date.now()).getTime() - new Date(start).getTime();
  if (ms < 60_000) return fmt.ms(Math.max(0, ms));
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function shortId(id) {
  return String(id).slice(0, 8);
}

function runLink(run) {
  return h("a", { href: `#/runs/${enc(run.id)}`, class: "wf-run-link" },
    badge(run.status), h("span", { class: "visually-hidden" }, ` run ${shortId(run.id)}, `),
    h("span", { class: "wf-run-when" }, fmt.ago(run.created_at)));
}

function stages(definition) {
  try {
    const graph = workflowGraph(definition);
    return layers(graph.nodes.map((n) => n.id), graph.edges).length;
  } catch {
    return null;
  }
}

function runsTable(runs) {
  return table([
    { label: "Run", value: (r) => h("a", { href: `#/runs/${enc(r.id)}` }, h("code", {}, shortId(r.id))) },
    { label: "Status", value: (r) => badge(r.status) },
    { label: "Started", value: (r) => timeAgo(r.created_at) },
    { label: "Duration", numeric: true, value: (r) => duration(r.started_at ?? r.created_at, r.finished_at) },
    { label: "Version", numeric: true, value: (r) => `v${r.version}` },
  ], runs, { caption: "Runs of this workflow, newest first", empty: "No runs yet." });
}

// -- the list ----------------------------------------------------------------------------------------------

async function renderList(root, signal) {
  root.append(pageHeader("Workflows", "Pipelines of agent steps. Open one to see its graph, start a run and follow it."));
  const body = h("div", {}, spinner("Loading workflows"));
  root.append(body);
  const list = await api("/v1/workflows", { signal });
  const details = await Promise.all(list.map(async (wf) => {
    const [full, runs] = await Promise.all([
      api(`/v1/workflows/${enc(wf.name)}`, { signal }).catch(() => null),
      api(`/v1/runs?workflow=${enc(wf.name)}&limit=${RECENT}`, { signal }).catch(() => []),
    ]);
    return { wf, definition: full?.definition ?? null, runs };
  }));
  if (signal.aborted) return;
  if (!details.length) {
    body.replaceChildren(h("p", { class: "empty" }, "No workflows are defined in this tenant yet."));
    return;
  }
  body.replaceChildren(h("ul", { class: "wf-cards", "aria-label": "Workflows" }, details.map(workflowCard)));
}

function workflowCard({ wf, definition, runs }) {
  const steps = definition?.steps?.length;
  const stageCount = definition ? stages(definition) : null;
  const headingId = `wf-${wf.name}`;
  return h("li", { class: "wf-card", "aria-labelledby": headingId },
    h("div", { class: "wf-card-head" },
      h("h2", { id: headingId }, h("a", { href: `#/workflows/${enc(wf.name)}` }, wf.name)),
      h("span", { class: "wf-version", title: "Latest version" }, `v${wf.version}`)),
    h("p", { class: "wf-desc" }, wf.description),
    h("p", { class: "wf-facts muted" },
      steps === undefined ? "Steps unknown" : `${steps} ${steps === 1 ? "step" : "steps"}`,
      stageCount ? ` in ${stageCount} ${stageCount === 1 ? "stage" : "stages"}` : ""),
    h("div", { class: "wf-recent" },
      h("h3", {}, "Recent runs"),
      runs.length
        ? h("ul", { class: "wf-run-list" }, runs.map((r) => h("li", {}, runLink(r))))
        : h("p", { class: "muted wf-none" }, "No runs yet.")));
}

// -- one workflow ------------------------------------------------------------------------------------------

async function renderOne(root, name, query, signal) {
  const version = query.get("version");
  const wf = await api(`/v1/workflows/${enc(name)}${version ? `?version=${enc(version)}` : ""}`, { signal });
  if (signal.aborted) return;
  const definition = wf.definition;
  const description = wf.description ?? definition.description ?? "";
  const graph = workflowGraph(definition);
  const byId = new Map(definition.steps.map((s) => [s.id, s]));
  const deps = new Map(graph.nodes.map((n) => [n.id, graph.edges.filter((e) => e.to === n.id).map((e) => e.from)]));

  const detail = h("div", { class: "wf-step-detail", "aria-live": "polite" },
    h("p", { class: "muted" }, "Select a step in the graph or the list to see how it is called."));
  let view = null;
  const select = (id, fromGraph = false) => {
    detail.replaceChildren(stepDetail(byId.get(id), deps.get(id)));
    if (!fromGraph) {
      view?.select(id);
      detail.closest(".card")?.scrollIntoView({ block: "start" });
    }
  };
  view = dagView(graph, { onSelect: (id) => select(id, true), title: `Steps of ${name}`, signal });

  const runsBox = h("div", {}, spinner("Loading runs"));
  root.append(
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" },
      h("ol", {},
        h("li", {}, h("a", { href: "#/workflows" }, "Workflows")),
        h("li", {}, h("span", { "aria-current": "page" }, name)))),
    pageHeader(name, description),
    versionLinks(name, wf.version, query),
    h("section", { class: "card", "aria-labelledby": "wf-graph-title" },
      h("h2", { id: "wf-graph-title" }, "Graph"),
      h("p", { class: "muted wf-graph-hint" }, "Each box is a step; arrows run from a step to the steps that use its output. ",
        "“each” marks a step run once per item of a list, “if” a step that runs only when its condition holds."),
      view.element,
      detail),
    h("div", { class: "grid grid-2 wf-columns" },
      can("workflows:run") ? startCard(name, wf, signal) : null,
      h("div", { class: "wf-stack" },
        stepsCard(definition, deps, select),
        h("section", { class: "card", "aria-labelledby": "wf-runs-title" },
          h("h2", { id: "wf-runs-title" }, "Recent runs"), runsBox))),
    h("details", { class: "card wf-raw" },
      h("summary", {}, "Definition (JSON)"),
      h("pre", { class: "code" }, JSON.stringify(definition, null, 2))));

  try {
    const runs = await api(`/v1/runs?workflow=${enc(name)}&limit=10`, { signal });
    runsBox.replaceChildren(runsTable(runs));
  } catch (err) {
    if (!signal.aborted) runsBox.replaceChildren(errorBox(err));
  }
}

function versionLinks(name, latest, query) {
  const shown = Number(query.get("version") ?? latest);
  const top = Math.max(latest, shown);
  if (top <= 1) return h("p", { class: "wf-versions muted" }, "Version 1");
  return h("nav", { class: "wf-versions", "aria-label": "Versions" },
    h("span", { class: "muted" }, "Versions: "),
    h("ul", {}, Array.from({ length: top }, (_, i) => top - i).map((v) => h("li", {},
      v === shown
        ? h("span", { "aria-current": "page", class: "wf-version" }, `v${v}`)
        : h("a", { href: `#/workflows/${enc(name)}${v === latest ? "" : `?version=${v}`}` }, `v${v}`)))));
}

function stepDetail(step, deps) {
  const entries = [
    ["Agent", h("a", { href: `#/agents/${enc(step.agent)}` }, step.agent)],
    ["Depends on", deps.length ? deps.join(", ") : h("span", { class: "muted" }, "nothing: starts with the run")],
    step.when ? ["Runs when", h("code", {}, step.when)] : null,
    step.for_each ? ["For each", [h("code", {}, step.for_each.items),
      ` as ${step.for_each.as ?? "item"}, up to ${step.for_each.max_concurrency ?? 4} at a time`]] : null,
    ["Attempts", String(step.retry?.attempts ?? 1)],
    ["Timeout", `${step.timeout_s ?? 120} s per attempt`],
    step.run_if_skipped ? ["If skipped above", "runs anyway"] : null,
  ].filter(Boolean);
  return h("div", {},
    h("h3", {}, "Step ", h("code", {}, step.id)),
    h("dl", { class: "wf-dl" }, entries.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    h("details", {},
      h("summary", {}, "Input template"),
      h("pre", { class: "code" }, JSON.stringify(step.input ?? {}, null, 2))));
}

function stepsCard(definition, deps, select) {
  return h("section", { class: "card", "aria-labelledby": "wf-steps-title" },
    h("h2", { id: "wf-steps-title" }, "Steps"),
    h("ol", { class: "wf-steps" }, definition.steps.map((s) => {
      const after = deps.get(s.id);
      const notes = [
        after.length ? `after ${after.join(", ")}` : "starts with the run",
        s.when ? "only when its condition holds" : null,
        s.for_each ? "once per item" : null,
      ].filter(Boolean).join(" · ");
      return h("li", {},
        h("button", { type: "button", class: "btn-link wf-step-link", onclick: () => select(s.id) }, s.id),
        h("span", { class: "muted" }, " calls "),
        h("a", { href: `#/agents/${enc(s.agent)}` }, s.agent),
        h("div", { class: "wf-step-notes muted" }, notes));
    })));
}

function startCard(name, wf, signal) {
  const form = schemaForm(wf.definition.input_schema ?? { type: "object" }, { idPrefix: "run-input" });
  const message = h("div", { class: "wf-start-status", role: "status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Start run");
  const onsubmit = async (event) => {
    event.preventDefault();
    message.replaceChildren();
    if (form.validate().length) {
      message.replaceChildren(h("p", { class: "field-error" }, "Please correct the fields marked above."));
      return;
    }
    submit.disabled = true;
    message.replaceChildren(spinner("Starting the run"));
    try {
      const body = { input: form.value() };
      if (wf.version) body.version = wf.version;
      const started = await api(`/v1/workflows/${enc(name)}/runs`, {
        method: "POST", body, signal, idempotencyKey: crypto.randomUUID(),
      });
      location.hash = `#/runs/${enc(started.id)}`;
    } catch (err) {
      if (signal.aborted) return;
      submit.disabled = false;
      if (err instanceof ApiError && err.status === 422 && Array.isArray(err.details)) form.setErrors(err.details);
      message.replaceChildren(errorBox(err));
    }
  };
  return h("section", { class: "card wf-start", "aria-labelledby": "wf-start-title" },
    h("h2", { id: "wf-start-title" }, "Start a run"),
    h("p", { class: "muted" }, "The run uses version ", String(wf.version), " of this workflow. You will follow it live."),
    h("form", { novalidate: true, onsubmit }, form.element, h("div", { class: "form-actions" }, submit), message));
}
