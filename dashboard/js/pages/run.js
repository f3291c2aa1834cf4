// #/runs/<id>: one workflow run, followed live from its event stream: the graph with each step's status,
// the overall status and elapsed time, a timeline of the steps, the selected step's details (and, for a
// graph, team or chat, its turns: one per agent call), and the run's input and output.

import { api, can, stream } from "../api.js";
import { dagView, statusText, stepKind, workflowGraph } from "../dag.js";
import { badge, debounce, errorBox, every, fmt, h, pageHeader } from "../dom.js";
import { labelFor } from "../schemaform.js";
import { turnEvent, turnKey, turnSignature, turnsByStep } from "../turns.js";

const enc = encodeURIComponent;
const ENDED = new Set(["succeeded", "failed", "cancelled"]);
const STEP_RANK = { pending: 0, running: 1, succeeded: 2, failed: 2, skipped: 2, cancelled: 2 };
const BACKUP_POLL_MS = 5000;

/** Renders the run named by the route and follows it until it ends or the page is left. */
export async function render(root, { params, signal }) {
  const id = params.id;
  let run = null;
  let records = new Map(); // step id -> the step's record in `run`
  let turns = new Map(); // step id -> its turns by seq: the run's records, and what events said since
  const liveTurns = new Map(); // "step/seq" -> the latest turn.started / turn.finished event of that turn
  const mergeTurns = () => { turns = turnsByStep(run.turns, liveTurns.values()); };
  const setRun = (next) => {
    run = next;
    records = new Map(run.steps.map((s) => [s.step, s]));
    mergeTurns();
  };
  setRun(await api(`/v1/runs/${enc(id)}`, { signal }));
  const wf = await api(`/v1/workflows/${enc(run.workflow)}?version=${run.version}`, { signal }).catch(() => null);
  if (signal.aborted) return;
  const definition = wf?.definition ?? { steps: run.steps.map((s) => ({ id: s.step, agent: "unknown" })) };
  const steps = definition.steps;
  const byId = new Map(steps.map((s) => [s.id, s]));
  const live = new Map(); // step id -> status seen in the event stream, ahead of the last GET
  let selected = null;

  // -- state ---------------------------------------------------------------------------------------------
  const ended = () => ENDED.has(run.status);
  const record = (stepId) => records.get(stepId) ?? null;
  const turnsOf = (stepId) => turns.get(stepId) ?? [];
  const statusOf = (stepId) => {
    const fetched = record(stepId)?.status;
    const seen = live.get(stepId);
    let status = fetched ?? "pending";
    if (seen && (STEP_RANK[seen] ?? 0) > (STEP_RANK[status] ?? 0)) status = seen;
    if (status === "pending" && ended()) return "not_run";
    return status;
  };
  const statuses = () => Object.fromEntries(steps.map((s) => {
    const attempts = record(s.id)?.attempts ?? 0;
    const status = statusOf(s.id);
    const note = attempts > 1 && !s.for_each ? `${attempts} attempts` : "";
    return [s.id, { status, note }];
  }));

  // -- the page --------------------------------------------------------------------------------------------
  const graph = workflowGraph(definition);
  const view = dagView(graph, { onSelect: (stepId) => choose(stepId, true), statuses: statuses(), title: `Steps of run ${id}`, signal });
  const statusBox = h("div", { class: "stat-value wf-run-status", role: "status", "aria-live": "polite" });
  const elapsedBox = h("div", { class: "stat-value" });
  const progressBox = h("div", { class: "stat-value" });
  const startedBox = h("div", { class: "stat-note" });
  const problem = h("div", { class: "wf-run-problem" });
  const notice = h("div", { "aria-live": "polite" });
  const cancelButton = h("button", { type: "button", class: "btn btn-danger wf-cancel", onclick: cancel, hidden: true }, "Cancel run");
  const panel = h("div", { class: "wf-panel", "aria-live": "polite" });
  const timeline = timelineView(steps, (stepId) => choose(stepId, false));
  const turnsTitle = h("h2", { id: "run-turns-title" });
  const turnsAbout = h("p", { class: "muted wf-turns-note" });
  const turnList = h("ol", { class: "wf-turns" });
  const turnsCard = h("section", { class: "card wf-turns-card", "aria-labelledby": "run-turns-title", hidden: true },
    turnsTitle, turnsAbout, turnList);
  const turnRows = new Map(); // seq -> { li, signature } of the turns drawn for `turnsStep`
  let turnsStep = null;
  const inputBox = h("div", {}, valueView(run.input, "run input")); // a run's input never changes
  const outputBox = h("div", {});
  let outputShown = null; // what outputBox shows: the output's JSON, or which note stands in for it

  root.append(
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" },
      h("ol", {},
        h("li", {}, h("a", { href: "#/workflows" }, "Workflows")),
        h("li", {}, h("a", { href: `#/workflows/${enc(run.workflow)}` }, run.workflow)),
        h("li", {}, h("span", { "aria-current": "page" }, `Run ${id.slice(0, 8)}`)))),
    pageHeader(`Run ${id.slice(0, 8)}`, [`Workflow `, h("a", { href: `#/workflows/${enc(run.workflow)}` }, run.workflow), `, version ${run.version}`],
      ...(can("workflows:run") ? [cancelButton] : [])),
    h("div", { class: "grid grid-4 wf-run-stats" },
      stat("Status", statusBox),
      stat("Elapsed", elapsedBox, startedBox),
      stat("Steps finished", progressBox),
      stat("Run id", h("div", { class: "stat-note wf-run-id" }, h("code", {}, id)))),
    notice,
    problem,
    h("section", { class: "card", "aria-labelledby": "run-graph-title" },
      h("h2", { id: "run-graph-title" }, "Steps"),
      h("p", { class: "muted wf-graph-hint" }, "Select a step to see its details and output."),
      view.element),
    h("div", { class: "grid grid-2 wf-columns" },
      h("section", { class: "card wf-detail-card", "aria-labelledby": "run-step-title" },
        h("h2", { id: "run-step-title" }, "Step details"), panel),
      h("section", { class: "card", "aria-labelledby": "run-timeline-title" },
        h("h2", { id: "run-timeline-title" }, "Timeline"), timeline.element)),
    turnsCard,
    h("div", { class: "grid grid-2 wf-columns" },
      h("section", { class: "card", "aria-labelledby": "run-input-title" }, h("h2", { id: "run-input-title" }, "Input"), inputBox),
      h("section", { class: "card", "aria-labelledby": "run-output-title" }, h("h2", { id: "run-output-title" }, "Output"), outputBox)));

  function stat(label, value, note) {
    return h("div", { class: "card stat" }, h("span", { class: "stat-label" }, label), value, note ?? null);
  }

  // -- painting ------------------------------------------------------------------------------------------------
  function paintHeader() {
    const text = statusText(run.status);
    statusBox.replaceChildren(badge(run.status, `${text.icon} ${text.label}`));
    const finished = steps.filter((s) => ENDED.has(statusOf(s.id)) || statusOf(s.id) === "skipped").length;
    progressBox.replaceChildren(`${finished} / ${steps.length}`);
    startedBox.replaceChildren(run.started_at ? `started ${fmt.time(run.started_at)}` : `queued ${fmt.time(run.created_at)}`);
    cancelButton.hidden = ended();
    problem.replaceChildren(run.error ? runError(run.error) : "");
    tick();
  }

  function tick() {
    elapsedBox.replaceChildren(elapsed(run.started_at ?? run.created_at, run.finished_at));
    timeline.paint(run, statusOf, record, turnsOf);
  }

  function paintAll() {
    view.update(statuses());
    paintHeader();
    paintOutput();
    paintPanel();
    paintTurns();
  }

  function paintOutput() {
    const none = run.output === null || run.output === undefined;
    const shown = none ? `none:${ended()}` : JSON.stringify(run.output);
    if (shown === outputShown) return;
    outputShown = shown;
    outputBox.replaceChildren(none
      ? h("p", { class: "muted" }, ended() ? "This run produced no output." : "The output appears when the run succeeds.")
      : outputView(run.output));
  }

  function paintPanel() {
    if (!selected) {
      panel.replaceChildren(h("p", { class: "muted" }, "Select a step in the graph or the timeline."));
      return;
    }
    const rawOpen = panel.querySelector(".wf-raw-json")?.open && panel.dataset.step === selected;
    panel.replaceChildren(stepPanel(byId.get(selected), record(selected), statusOf(selected), turnsOf(selected)));
    panel.dataset.step = selected;
    const raw = panel.querySelector(".wf-raw-json");
    if (raw && rawOpen) raw.open = true;
  }

  /** The selected step's turns, in seq order. Only the turns that changed are drawn again, so that the
   * disclosures the reader opened, and the focus, stay where they were. */
  function paintTurns() {
    const list = selected ? turnsOf(selected) : [];
    if (turnsStep !== selected) {
      turnRows.clear();
      turnList.replaceChildren();
      turnsStep = selected;
    }
    const kind = stepKind(byId.get(selected));
    turnsCard.hidden = list.length === 0;
    if (list.length) {
      turnsTitle.replaceChildren("Turns of step ", h("code", {}, selected));
      turnsAbout.replaceChildren(turnsNote(kind, list));
    }
    const wanted = new Set();
    let previous = null;
    for (const turn of list) {
      wanted.add(turn.seq);
      const signature = turnSignature(turn);
      let row = turnRows.get(turn.seq);
      if (!row || row.signature !== signature) {
        const li = turnItem(turn, kind);
        if (row) swap(row.li, li);
        else if (previous) previous.after(li);
        else turnList.prepend(li);
        row = { li, signature };
        turnRows.set(turn.seq, row);
      }
      previous = row.li;
    }
    for (const [seq, row] of turnRows) {
      if (!wanted.has(seq)) {
        row.li.remove();
        turnRows.delete(seq);
      }
    }
  }

  function choose(stepId, fromGraph) {
    selected = stepId;
    if (!fromGraph) view.select(stepId);
    timeline.mark(stepId);
    paintPanel();
    paintTurns();
  }

  // -- following the run -----------------------------------------------------------------------------------------
  async function refresh() {
    try {
      setRun(await api(`/v1/runs/${enc(id)}`, { signal }));
      paintAll();
    } catch (err) {
      if (!signal.aborted) notice.replaceChildren(errorBox(err));
    }
  }
  const refreshSoon = debounce(() => { if (!signal.aborted) refresh(); }, 250);

  function apply(kind, data) {
    if (kind.startsWith("step.") && data?.step) {
      live.set(data.step, kind.slice(5) === "started" ? "running" : kind.slice(5));
      view.update(statuses());
      timeline.paint(run, statusOf, record, turnsOf);
      if (data.step === selected) paintPanel();
    } else if (kind.startsWith("turn.")) {
      const seen = turnEvent(kind, data);
      if (!seen) return;
      liveTurns.set(turnKey(seen), seen);
      mergeTurns();
      timeline.paint(run, statusOf, record, turnsOf);
      if (seen.step === selected) paintTurns();
    } else if (kind.startsWith("run.")) {
      const status = kind.slice(4);
      if (ENDED.has(status) || status === "started") {
        setRun({ ...run, status: status === "started" ? "running" : status, started_at: run.started_at ?? data?.at });
        if (ENDED.has(status)) run.finished_at = run.finished_at ?? data?.at ?? new Date().toISOString();
        paintHeader();
        view.update(statuses());
      }
    }
  }

  async function follow() {
    const backup = new AbortController();
    signal.addEventListener("abort", () => backup.abort());
    // The stream drives the page; a slow poll covers a stream that stalls or drops (it skips a turn
    // when an event arrived within the last BACKUP_POLL_MS).
    let lastEvent = Date.now(); // the first turn (now) never polls: the page was just fetched
    every(BACKUP_POLL_MS, async () => {
      if (ended()) backup.abort();
      else if (Date.now() - lastEvent >= BACKUP_POLL_MS) await refresh();
    }, backup.signal);
    try {
      for await (const { event, data } of stream(`/v1/runs/${enc(id)}/events`, { signal })) {
        lastEvent = Date.now();
        apply(event, data);
        refreshSoon();
        if (event.startsWith("run.") && ENDED.has(event.slice(4))) break;
      }
    } catch (err) {
      if (signal.aborted) return;
      notice.replaceChildren(h("p", { class: "alert alert-info" },
        "Live updates were interrupted; the page refreshes every few seconds instead."));
      console.warn(err);
    }
    await refresh();
  }

  selected = (steps.find((s) => statusOf(s.id) === "failed") ?? steps[0])?.id ?? null;
  if (selected) view.select(selected);
  timeline.mark(selected);
  paintAll();
  if (!ended()) {
    const ticking = new AbortController();
    signal.addEventListener("abort", () => ticking.abort());
    every(1000, () => (ended() ? ticking.abort() : tick()), ticking.signal);
    follow();
  }

  async function cancel() {
    cancelButton.disabled = true;
    notice.replaceChildren();
    try {
      await api(`/v1/runs/${enc(id)}/cancel`, { method: "POST", signal });
      notice.replaceChildren(h("p", { class: "alert alert-info" }, "Cancelling the run…"));
      await refresh();
    } catch (err) {
      if (!signal.aborted) notice.replaceChildren(errorBox(err));
    } finally {
      cancelButton.disabled = false;
    }
  }
}

// -- pieces ----------------------------------------------------------------------------------------------------

function elapsed(start, end) {
  if (!start) return "–";
  const ms = Math.max(0, new Date(end ?? Date.now()).getTime() - new Date(start).getTime());
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  return hours ? `${hours} h ${minutes} min` : `${minutes} min ${s % 60} s`;
}

function runError(error) {
  const where = error.step ? [" in step ", h("code", {}, error.step)] : null;
  return h("div", { class: "alert alert-error", role: "alert" },
    h("strong", {}, error.type ?? "error"), where, ": ", error.message ?? JSON.stringify(error));
}

function skippedWhy(error) {
  if (!error) return null;
  if (error.when) return ["Skipped: its condition ", h("code", {}, error.when), " was false."];
  if (Array.isArray(error.blocked_by)) return [`Skipped: it needs ${error.blocked_by.join(", ")}, which did not succeed.`];
  return null;
}

function stepPanel(step, rec, status, turns) {
  const text = statusText(status);
  const kind = stepKind(step);
  const started = rec?.started_at;
  const finished = rec?.finished_at;
  const why = status === "skipped" ? skippedWhy(rec?.error) : null;
  const entries = [
    kind === "agent"
      ? ["Agent", step?.agent ? h("a", { href: `#/agents/${enc(step.agent)}` }, step.agent) : "–"]
      : ["Kind", `${kind} of agents`],
    ["Status", badge(status, `${text.icon} ${text.label}`)],
    ["Attempts", rec?.attempts ? String(rec.attempts) : "–"],
    ["Started", started ? h("time", { datetime: started }, fmt.time(started)) : "–"],
    ["Ended", finished ? h("time", { datetime: finished }, fmt.time(finished)) : "–"],
    ["Duration", started ? elapsed(started, finished) : "–"],
    step?.for_each ? ["Runs", "once per item; the output is the list of outputs"] : null,
    step?.when ? ["Condition", h("code", {}, step.when)] : null,
    turns.length ? ["Turns", `${turns.length} agent ${turns.length === 1 ? "call" : "calls"}, listed below`] : null,
  ].filter(Boolean);
  const output = rec?.output;
  return h("div", { class: "wf-step-panel" },
    h("h3", {}, "Step ", h("code", {}, step?.id ?? "?")),
    h("dl", { class: "wf-dl" }, entries.map(([t, v]) => [h("dt", {}, t), h("dd", {}, v)])),
    why ? h("p", { class: "alert alert-info" }, why) : null,
    rec?.error && status !== "skipped" ? stepError(rec.error) : null,
    h("h4", {}, "Output"),
    output === null || output === undefined
      ? h("p", { class: "muted" }, status === "running" ? "Still running…" : "No output.")
      : valueView(output, `output of ${step?.id}`));
}

function stepError(error) {
  return h("div", { class: "alert alert-error" },
    h("strong", {}, error.status ? `${error.status} ` : "", error.type ?? "error"), ": ",
    error.message ?? JSON.stringify(error));
}

const TURNS_NOTE = {
  graph: "Each node's agent call, in order. A node's state is the graph's shared state after it ran.",
  team: "The plan, each task, the review and the answer, in order.",
  chat: "Each speaker's turn, and each choice of who speaks next, in order.",
};

function turnsNote(kind, turns) {
  const tokens = turns.reduce((sum, t) => sum + (t.tokens ?? 0), 0);
  return `${TURNS_NOTE[kind] ?? "Each agent call of the step, in order."} ${turns.length} ${turns.length === 1 ? "turn" : "turns"}, ${fmt.number(tokens)} tokens.`;
}

/** One turn: its number, role, agent, status and tokens, then its input, output and state as disclosures. */
function turnItem(turn, kind) {
  const text = statusText(turn.status);
  const what = `turn ${turn.seq}`;
  const figures = [
    turn.status === "running" ? null : `${fmt.number(turn.tokens ?? 0)} tokens`,
    turn.attempts > 1 ? `${turn.attempts} attempts` : null,
    turn.started_at && turn.finished_at ? elapsed(turn.started_at, turn.finished_at) : null,
  ].filter(Boolean);
  const stateLabel = kind === "graph" ? "Shared state after this node" : "State";
  return h("li", { class: `wf-turn status-${turn.status}` },
    h("div", { class: "wf-turn-head" },
      h("h3", { class: "wf-turn-title" }, `Turn ${turn.seq}`, turn.role ? [" · ", h("code", {}, turn.role)] : null),
      turn.agent ? h("a", { class: "wf-turn-agent", href: `#/agents/${enc(turn.agent)}` }, turn.agent) : null,
      badge(turn.status, `${text.icon} ${text.label}`),
      figures.length ? h("span", { class: "wf-turn-figures" }, figures.join(" · ")) : null),
    turn.error ? stepError(turn.error) : null,
    "input" in turn ? turnPart("input", "Input", what, turn.input) : null,
    turn.output !== null && turn.output !== undefined ? turnPart("output", "Output", what, turn.output) : null,
    turn.state !== null && turn.state !== undefined ? turnPart("state", stateLabel, what, turn.state) : null);
}

function turnPart(key, label, what, value) {
  return h("details", { class: "wf-turn-part", "data-key": key },
    h("summary", {}, label, h("span", { class: "visually-hidden" }, ` of ${what}`)),
    valueView(value, `${label.toLowerCase()} of ${what}`, `${key}-raw`));
}

/** Puts `next` in the place of `old`, with the disclosures open that were open in `old` (by their
 * data-key), and the focus on the disclosure that had it. */
function swap(old, next) {
  const find = (key) => next.querySelector(`details[data-key="${key}"]`);
  for (const details of old.querySelectorAll("details[data-key]")) {
    const same = details.open ? find(details.dataset.key) : null;
    if (same) same.open = true;
  }
  const active = document.activeElement;
  const focused = old.contains(active) ? active.closest("details[data-key]")?.dataset.key : null;
  old.replaceWith(next);
  if (focused) find(focused)?.querySelector(":scope > summary")?.focus();
}

/** A JSON value shown readably (lists, labelled fields, text), with the raw JSON in a disclosure. */
function valueView(value, what, key) {
  return h("div", { class: "wf-value" },
    readable(value, 0),
    h("details", { class: "wf-raw-json", "data-key": key },
      h("summary", {}, "Raw JSON", h("span", { class: "visually-hidden" }, ` of the ${what}`)),
      h("pre", { class: "code" }, JSON.stringify(value, null, 2))));
}

/** A run's output: each top-level field in its own disclosure (the first one open), then the raw JSON. */
function outputView(value) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return valueView(value, "run output");
  const entries = Object.entries(value);
  return h("div", { class: "wf-value" },
    entries.map(([key, item], i) => (item !== null && typeof item === "object"
      ? h("details", { class: "wf-part", open: i === 0 || entries.length === 1 },
        h("summary", {}, labelFor(key), h("span", { class: "muted wf-part-size" }, ` ${sizeOf(item)}`)),
        h("div", { class: "wf-part-body" }, readable(item, 1)))
      : h("p", { class: "wf-part wf-part-scalar" }, h("strong", {}, labelFor(key), ": "), readable(item, 1)))),
    h("details", { class: "wf-raw-json" },
      h("summary", {}, "Raw JSON", h("span", { class: "visually-hidden" }, " of the run output")),
      h("pre", { class: "code" }, JSON.stringify(value, null, 2))));
}

function sizeOf(value) {
  if (Array.isArray(value)) return `(${value.length} ${value.length === 1 ? "item" : "items"})`;
  if (value && typeof value === "object") return `(${Object.keys(value).length} fields)`;
  return "";
}

function readable(value, depth) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "none");
  if (typeof value === "string") {
    return value.length > 120 || value.includes("\n") ? h("p", { class: "wf-text" }, value) : h("span", {}, value);
  }
  if (typeof value === "number") return h("span", { class: "wf-num" }, fmt.number(value));
  if (typeof value === "boolean") return h("span", {}, value ? "yes" : "no");
  if (depth > 4) return h("code", {}, JSON.stringify(value));
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "muted" }, "empty list");
    return h("ol", { class: "wf-list" }, value.map((item) => h("li", {}, readable(item, depth + 1))));
  }
  const entries = Object.entries(value);
  if (!entries.length) return h("span", { class: "muted" }, "empty");
  return h("dl", { class: `wf-dl wf-out depth-${Math.min(depth, 3)}` },
    entries.map(([k, v]) => [h("dt", {}, labelFor(k)), h("dd", {}, readable(v, depth + 1))]));
}

/** Bars of each step's start and end on the run's time axis; rows are fixed, paint() restyles them. */
function timelineView(steps, onChoose) {
  const rows = new Map();
  const axis = h("p", { class: "wf-tl-axis muted" });
  const list = h("ol", { class: "wf-tl" }, steps.map((s) => {
    const bar = h("span", { class: "wf-tl-bar" });
    const text = h("span", { class: "wf-tl-text" });
    const button = h("button", { type: "button", class: "wf-tl-step", onclick: () => onChoose(s.id), "aria-pressed": "false" }, s.id);
    const li = h("li", { class: "wf-tl-row" }, button, h("span", { class: "wf-tl-track", "aria-hidden": "true" }, bar), text);
    rows.set(s.id, { li, bar, text, button });
    return li;
  }));
  return {
    element: h("div", { class: "wf-timeline" }, axis, list),
    mark(stepId) {
      for (const [id, row] of rows) row.button.setAttribute("aria-pressed", String(id === stepId));
    },
    paint(run, statusOf, record, turnsOf) {
      const start = new Date(run.started_at ?? run.created_at).getTime();
      const stepEnds = run.steps.map((s) => new Date(s.finished_at ?? s.started_at ?? start).getTime());
      const end = run.finished_at ? new Date(run.finished_at).getTime() : Math.max(Date.now(), ...stepEnds);
      const span = Math.max(end - start, 1);
      axis.replaceChildren(`0 s to ${elapsed(start, end)} from the run's start`);
      for (const [id, row] of rows) {
        const rec = record(id);
        const status = statusOf(id);
        const text = statusText(status);
        const count = turnsOf(id).length;
        const calls = count ? ` · ${count} ${count === 1 ? "turn" : "turns"}` : "";
        row.li.className = `wf-tl-row status-${status}`;
        if (!rec?.started_at) {
          row.bar.hidden = true;
          row.text.replaceChildren(`${text.icon} ${text.label}${calls}`);
          continue;
        }
        const from = new Date(rec.started_at).getTime();
        const to = rec.finished_at ? new Date(rec.finished_at).getTime() : Math.max(Date.now(), from);
        row.bar.hidden = false;
        row.bar.style.left = `${((from - start) / span) * 100}%`;
        row.bar.style.width = `${Math.max(((to - from) / span) * 100, 0.8)}%`;
        row.text.replaceChildren(`${text.icon} ${text.label}, `,
          `${elapsed(start, from)} → ${rec.finished_at ? elapsed(start, to) : "now"} (${elapsed(from, to)})${calls}`);
      }
    },
  };
}
