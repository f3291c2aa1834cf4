// #/analytics?days=7|30|90: usage over a range of days: totals, calls per day by category, agent and
// (for the platform's admins) tenant, tokens and cost per day, and the busiest agents.

import { api, session } from "../api.js";
import { card, errorBox, fmt, h, pageHeader, table } from "../dom.js";
import { dayLabel, dayRange, daysBefore, horizontalBars, isoDay, pivot, stackedBars, sumFields } from "../charts.js";

const RANGES = [7, 30, 90];
const TOP_AGENTS = 10;
const AGENT_ROWS = 20;
const FIGURES = ["calls", "errors", "input_tokens", "output_tokens", "cost_usd"];

/** Renders the analytics page into `root` for the range of days in `query`. */
export async function render(root, { query, signal }) {
  const days = RANGES.includes(Number(query.get("days"))) ? Number(query.get("days")) : 30;
  const until = isoDay(new Date());
  const since = daysBefore(until, days - 1);
  const labels = dayRange(since, until);
  const platform = Boolean(session?.platform);

  const select = h("select", {
    id: "analytics-days", onchange: () => { location.hash = `#/analytics?days=${select.value}`; },
  },
    RANGES.map((d) => h("option", { value: String(d), selected: d === days }, `Last ${d} days`)));
  const refreshButton = h("button", { type: "button", class: "btn", onclick: () => load() }, "Refresh");
  const status = h("p", { class: "updated muted", role: "status" });
  root.append(pageHeader("Analytics", `${dayLabel(since)} – ${dayLabel(until)} (UTC days)`,
    h("div", { class: "field" }, h("label", { for: "analytics-days", class: "visually-hidden" }, "Range"), select),
    refreshButton, status));

  const totals = totalCards();
  const sections = {
    category: chartSection("Calls per day by category"),
    topAgents: chartSection(`Top ${TOP_AGENTS} agents by calls`),
    agentTable: chartSection("Agents: errors and latency"),
    tokens: chartSection("Tokens per day"),
    cost: chartSection("Cost per day"),
    agent: chartSection("Calls per day by agent"),
    tenant: platform ? chartSection("Calls per day by tenant") : null,
  };
  root.append(
    h("section", { "aria-labelledby": "totals-heading" },
      h("h2", { id: "totals-heading", class: "visually-hidden" }, `Totals of the last ${days} days`),
      totals.error, totals.grid),
    sections.category.element,
    h("div", { class: "grid grid-2" }, sections.topAgents.element, sections.agent.element),
    sections.agentTable.element,
    h("div", { class: "grid grid-2" }, sections.tokens.element, sections.cost.element),
    sections.tenant?.element,
  );

  const usage = (split) => api(`/v1/analytics/usage?since=${since}&until=${until}&group_by=day&split=${split}`, { signal });
  const rangeText = `from ${dayLabel(since)} to ${dayLabel(until)}`;

  function showCategories(data) {
    const rows = data.items ?? [];
    totals.show(sumFields(rows, FIGURES));
    const byCategory = pivot(rows, { labels, value: "calls", fallback: "calls" });
    sections.category.draw(stackedBars, {
      title: `Calls per day by category, ${rangeText}`,
      desc: "Each bar is one day; its parts are the busiest categories, the rest summed as other.",
      labels, series: byCategory.series, integer: true, legend: true,
    });
    const perDay = (value) => pivot(rows, { labels, value, split: "none", fallback: value }).series[0]?.values
      ?? labels.map(() => 0);
    sections.tokens.draw(stackedBars, {
      title: `Input and output tokens per day, ${rangeText}`,
      desc: "Each bar is one day: input tokens below, output tokens above.",
      labels, integer: true,
      series: [
        { name: "Input tokens", values: perDay("input_tokens") },
        { name: "Output tokens", values: perDay("output_tokens") },
      ],
    });
    sections.cost.draw(stackedBars, {
      title: `Cost per day, ${rangeText}`, desc: "Cost of the agents' model calls, in US dollars.",
      labels, format: fmt.usd, tickFormat: usdTick,
      series: [{ name: "Cost", values: perDay("cost_usd") }],
    });
  }

  function showSplit(section, data, noun) {
    const { series } = pivot(data.items ?? [], { labels, value: "calls", fallback: "calls" });
    section.draw(stackedBars, {
      title: `Calls per day by ${noun}, ${rangeText}`,
      desc: `Each bar is one day; its parts are the busiest ${noun}s, the rest summed as other.`,
      labels, series, integer: true, legend: true,
    });
  }

  function showAgents(data) {
    const items = data.items ?? [];
    const link = (name) => `#/agents/${encodeURIComponent(name)}`;
    if (!items.length) sections.topAgents.put(h("p", { class: "empty" }, "No agent calls in this range."));
    else {
      sections.topAgents.draw(horizontalBars, {
        title: `Top ${TOP_AGENTS} agents by calls, last ${days} days`,
        desc: "Agents ranked by their number of calls; select a bar to open the agent.",
        name: "Calls", labelName: "Agent", integer: true,
        items: items.slice(0, TOP_AGENTS).map((a) => ({
          label: a.agent, value: a.calls, href: link(a.agent),
          note: `${fmt.pct(a.error_rate)} errors, p95 ${fmt.ms(a.p95_ms)}`,
        })),
      });
    }
    sections.agentTable.put(table([
      { label: "Agent", value: (a) => h("a", { href: link(a.agent) }, a.agent) },
      { label: "Category", value: (a) => a.category },
      { label: "Calls", numeric: true, value: (a) => fmt.number(a.calls) },
      { label: "Error rate", numeric: true, value: (a) => fmt.pct(a.error_rate) },
      { label: "p50", numeric: true, value: (a) => fmt.ms(a.p50_ms) },
      { label: "p95", numeric: true, value: (a) => fmt.ms(a.p95_ms) },
    ], items, {
      caption: `The ${AGENT_ROWS} busiest agents of the last ${days} days`,
      empty: "No agent calls in this range.",
    }));
  }

  const failed = (...targets) => (err) => {
    if (!signal.aborted) for (const target of targets) target.fail(err);
  };

  // The button stays focusable while loading (aria-disabled), so that keyboard users keep their place.
  let loading = false;
  async function load() {
    if (loading) return;
    loading = true;
    refreshButton.setAttribute("aria-disabled", "true");
    root.setAttribute("aria-busy", "true");
    status.textContent = "Loading…";
    const jobs = [
      usage("category").then(showCategories, failed(totals, sections.category, sections.tokens, sections.cost)),
      usage("agent").then((d) => showSplit(sections.agent, d, "agent"), failed(sections.agent)),
      api(`/v1/analytics/agents?hours=${days * 24}&limit=${AGENT_ROWS}`, { signal })
        .then(showAgents, failed(sections.topAgents, sections.agentTable)),
    ];
    if (sections.tenant) {
      jobs.push(usage("tenant").then((d) => showSplit(sections.tenant, d, "tenant"), failed(sections.tenant)));
    }
    try {
      await Promise.all(jobs);
      if (!signal.aborted) status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } finally {
      loading = false;
      refreshButton.removeAttribute("aria-disabled");
      root.removeAttribute("aria-busy");
    }
  }

  await load();
}

// -- the totals ------------------------------------------------------------------------------------

function totalCards() {
  const specs = [
    ["calls", "Calls"], ["errors", "Errors"], ["input_tokens", "Input tokens"],
    ["output_tokens", "Output tokens"], ["cost_usd", "Cost"],
  ];
  const cells = new Map();
  const grid = h("div", { class: "stats-grid" }, specs.map(([key, label]) => {
    const id = `total-${key}`;
    const value = h("span", { class: "stat-value" }, "–");
    const note = h("span", { class: "stat-note" });
    cells.set(key, { value, note });
    return h("div", { class: "card stat", role: "group", "aria-labelledby": id, dataset: { total: key } },
      h("span", { class: "stat-label", id }, label), value, note);
  }));
  const error = h("div", {});
  const set = (key, value, note = "") => {
    cells.get(key).value.textContent = value;
    cells.get(key).note.textContent = note;
  };
  return {
    grid, error,
    /** Shows the sums of the range. */
    show(sum) {
      error.replaceChildren();
      set("calls", fmt.number(sum.calls));
      set("errors", fmt.number(sum.errors), sum.calls ? `${fmt.pct(sum.errors / sum.calls)} of calls` : "");
      set("input_tokens", fmt.number(sum.input_tokens));
      set("output_tokens", fmt.number(sum.output_tokens));
      set("cost_usd", fmt.usd(sum.cost_usd), sum.calls ? `${fmt.usd(sum.cost_usd / sum.calls)} a call` : "");
    },
    fail(err) {
      error.replaceChildren(errorBox(err));
    },
  };
}

// -- a card holding one chart or table --------------------------------------------------------------

/** A titled card holding a chart (created by `draw(kind, opts)` once, then updated in place so that an
 * open table or a focused bar survives a refresh) or any other content (`put(node)`). */
function chartSection(title) {
  const body = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  const element = card(title, body);
  let chart = null;
  let kind = null;
  return {
    element,
    draw(make, opts) {
      if (chart && kind === make) {
        chart.update(opts);
        return;
      }
      chart = make(opts);
      kind = make;
      body.replaceChildren(chart);
    },
    put(node) {
      chart = null;
      body.replaceChildren(node);
    },
    fail(err) {
      this.put(errorBox(err));
    },
  };
}

function usdTick(v) {
  return v === 0 ? "$0" : v < 0.01 ? `$${v.toPrecision(1)}` : `$${fmt.compact(v)}`;
}
