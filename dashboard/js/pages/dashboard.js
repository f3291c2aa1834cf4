// #/dashboard: the operations view. Figures of the last minutes (polled, and refreshed when a call is
// streamed), the deployments and their replicas, and the latest agent calls as they happen.

import { api, can, session, stream } from "../api.js";
import { badge, breakable, card, debounce, errorBox, every, fmt, h, pageHeader, scrollArea } from "../dom.js";
import { fillBuckets, lineChart, sparkline, timeBuckets } from "../charts.js";

const WINDOWS = [
  { minutes: 15, label: "Last 15 minutes" },
  { minutes: 60, label: "Last hour" },
  { minutes: 360, label: "Last 6 hours" },
  { minutes: 1440, label: "Last 24 hours" },
];
const KEEP = 20;
const OVERVIEW_MS = 5_000;
const DEPLOYMENTS_MS = 10_000;
const RECONNECT_MAX_MS = 30_000;

/** Renders the dashboard into `root`; everything stops when `signal` aborts. */
export async function render(root, { query, signal }) {
  let current = WINDOWS.find((w) => w.minutes === Number(query.get("minutes"))) ?? WINDOWS[1];

  const live = h("p", { class: "live", role: "status" }, "Connecting…");
  const updated = h("p", { class: "updated muted" }, "Not updated yet");
  const select = h("select", { id: "dashboard-window", onchange: () => changeWindow(Number(select.value)) },
    WINDOWS.map((w) => h("option", { value: String(w.minutes), selected: w === current }, w.label)));
  root.append(pageHeader("Dashboard", `Agent calls and deployments of tenant ${session?.tenant ?? ""}`,
    h("div", { class: "field" }, h("label", { for: "dashboard-window", class: "visually-hidden" }, "Time window"), select),
    live, updated));

  const stats = statCards();
  const overviewError = h("div", {});
  const charts = { calls: null, latency: null };
  const callsSlot = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  const latencySlot = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  const deployments = deploymentSection();
  const recent = recentSection();
  root.append(
    h("section", { "aria-labelledby": "stats-heading" },
      h("h2", { id: "stats-heading", class: "visually-hidden" }, "Figures"), overviewError, stats.grid),
    h("div", { class: "grid grid-2" },
      card("Requests and errors", callsSlot),
      card("Latency", latencySlot)),
    deployments.element,
    recent.element,
  );

  function stamp() {
    const now = new Date();
    updated.replaceChildren("Updated ", h("time", { datetime: now.toISOString() }, now.toLocaleTimeString()));
  }

  // -- the figures of the window ------------------------------------------------------------------

  let issued = 0;
  async function loadOverview() {
    const mine = (issued += 1);
    try {
      const data = await api(`/v1/analytics/overview?minutes=${current.minutes}`, { signal });
      if (mine !== issued) return;
      overviewError.replaceChildren();
      showOverview(data);
      stamp();
    } catch (err) {
      if (err?.name === "AbortError" || mine !== issued) return;
      overviewError.replaceChildren(errorBox(err));
    }
  }

  function showOverview(data) {
    const t = data.totals ?? {};
    // The server's clock: the window ends `minutes` after `since`.
    const end = Date.parse(data.since) + (data.minutes ?? current.minutes) * 60_000;
    const starts = timeBuckets(data.since, Number.isFinite(end) ? end : Date.now(), data.bucket_seconds ?? 60);
    const series = fillBuckets(data.series, starts, data.bucket_seconds ?? 60,
      ["calls", "errors", "p50_ms", "p95_ms"], { calls: 0, errors: 0 });
    const span = current.label.toLowerCase();
    stats.set("calls", fmt.number(t.calls ?? 0), span, series.calls);
    stats.set("error_rate", fmt.pct(t.error_rate ?? 0), `${fmt.number(t.errors ?? 0)} errors`);
    stats.set("p50_ms", fmt.ms(t.p50_ms), "median latency");
    stats.set("p95_ms", fmt.ms(t.p95_ms), "95th percentile");
    stats.set("tokens", fmt.number((t.input_tokens ?? 0) + (t.output_tokens ?? 0)),
      `${fmt.number(t.input_tokens ?? 0)} in · ${fmt.number(t.output_tokens ?? 0)} out`);
    stats.set("cost", fmt.usd(t.cost_usd ?? 0), span);

    const calls = {
      title: `Requests and errors, ${span}`,
      desc: `Agent calls and failed calls per ${bucketName(data.bucket_seconds)}.`,
      x: starts, integer: true,
      series: [{ name: "Requests", values: series.calls }, { name: "Errors", values: series.errors }],
    };
    const latency = {
      title: `Latency, ${span}`,
      desc: `Median (p50) and 95th percentile (p95) latency per ${bucketName(data.bucket_seconds)}; gaps had no calls.`,
      x: starts, format: fmt.ms, tickFormat: fmt.ms,
      series: [{ name: "p50", values: series.p50_ms }, { name: "p95", values: series.p95_ms }],
    };
    if (charts.calls) {
      charts.calls.update(calls);
      charts.latency.update(latency);
    } else {
      charts.calls = lineChart(calls);
      charts.latency = lineChart(latency);
      callsSlot.replaceChildren(charts.calls);
      latencySlot.replaceChildren(charts.latency);
    }
  }

  function changeWindow(minutes) {
    current = WINDOWS.find((w) => w.minutes === minutes) ?? WINDOWS[1];
    history.replaceState(null, "", `#/dashboard?minutes=${current.minutes}`);
    loadOverview();
  }

  // -- deployments ---------------------------------------------------------------------------------

  async function loadDeployments() {
    try {
      const data = await api("/v1/deployments", { signal });
      deployments.show(data.applications ?? []);
      stamp();
    } catch (err) {
      if (err?.name !== "AbortError") deployments.fail(err);
    }
  }

  // -- recent executions, and the live stream ----------------------------------------------------------

  async function loadExecutions() {
    try {
      const data = await api(`/v1/executions?limit=${KEEP}`, { signal });
      recent.replace(data.items ?? []);
    } catch (err) {
      if (err?.name !== "AbortError") recent.fail(err);
    }
  }

  const refreshSoon = debounce(() => { if (!signal.aborted) loadOverview(); }, 800);

  function setLive(state, text) {
    live.className = `live live-${state}`;
    if (live.textContent !== text) live.textContent = text;
  }

  // A stream the server ends after it was open a while is opened again at once, quietly; one that
  // fails straight away is retried with a growing delay, and shown as "Reconnecting…".
  async function listen() {
    let delay = 1_000;
    let missed = false;
    while (!signal.aborted) {
      let open = false;
      const opened = setTimeout(() => { open = true; setLive("on", "Live"); }, 1_500);
      try {
        if (missed) await loadExecutions();
        for await (const event of stream("/v1/events", { signal })) {
          open = true;
          setLive("on", "Live");
          if (event.event === "execution" && event.data && typeof event.data === "object") {
            recent.add(withTime(event.data, event.id));
            refreshSoon();
          }
        }
      } catch (err) {
        if (!signal.aborted && (err?.status === 401 || err?.status === 403)) {
          clearTimeout(opened);
          setLive("off", "Live updates unavailable");
          return;
        }
      } finally {
        clearTimeout(opened);
      }
      if (signal.aborted) return;
      missed = !open;
      if (open) {
        delay = 1_000;
        continue;
      }
      setLive("off", "Reconnecting…");
      await sleep(delay, signal);
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    }
  }

  const firstOverview = every(OVERVIEW_MS, loadOverview, signal);
  const firstDeployments = every(DEPLOYMENTS_MS, loadDeployments, signal);
  // Live from the event stream when the role may read it; otherwise the list is polled with the figures.
  let firstExecutions = Promise.resolve();
  if (!can("executions:read")) {
    recent.unavailable("Your role does not include reading executions.");
  } else if (can("events:read")) {
    listen();
    firstExecutions = loadExecutions();
  } else {
    setLive("on", `Every ${OVERVIEW_MS / 1000} s`);
    firstExecutions = every(OVERVIEW_MS, loadExecutions, signal);
  }
  await Promise.all([firstOverview, firstDeployments, firstExecutions]);
}

// -- the figure cards ------------------------------------------------------------------------------

function statCards() {
  const specs = [
    ["calls", "Requests"], ["error_rate", "Error rate"], ["p50_ms", "Latency p50"],
    ["p95_ms", "Latency p95"], ["tokens", "Tokens"], ["cost", "Cost"],
  ];
  const cards = new Map();
  const grid = h("div", { class: "stats-grid" }, specs.map(([key, label]) => {
    const id = `stat-${key}`;
    const value = h("span", { class: "stat-value" }, "–");
    const note = h("span", { class: "stat-note" }, "");
    const spark = key === "calls" ? sparkline([], { title: "Requests over the window", format: fmt.number }) : null;
    cards.set(key, { value, note, spark });
    return h("div", { class: "card stat", role: "group", "aria-labelledby": id, dataset: { stat: key } },
      h("span", { class: "stat-label", id }, label), value, note, spark);
  }));
  return {
    grid,
    /** Shows a figure, its note, and (for requests) its trend. */
    set(key, value, note, trend) {
      const c = cards.get(key);
      if (c.value.textContent !== value) c.value.textContent = value;
      c.note.textContent = note;
      if (trend && c.spark) c.spark.update(trend);
    },
  };
}

// -- deployments -----------------------------------------------------------------------------------

function deploymentSection() {
  const figures = h("div", { class: "stats-grid stats-grid-small" });
  const body = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  const element = card("Deployments", figures, body);
  return {
    element,
    show(apps) {
      const deployments = apps.flatMap((a) => a.deployments ?? []);
      const replicas = { running: 0, other: 0 };
      for (const d of deployments) {
        for (const [state, n] of Object.entries(d.replicas ?? {})) replicas[state === "RUNNING" ? "running" : "other"] += n;
      }
      const unhealthy = apps.filter((a) => !isHealthy(a.status)).length;
      figures.replaceChildren(
        figure("Applications", fmt.number(apps.length), unhealthy ? `${unhealthy} not running` : "all running"),
        figure("Deployments", fmt.number(deployments.length)),
        figure("Running replicas", fmt.number(replicas.running),
          replicas.other ? `${replicas.other} in other states` : null));
      const sorted = [...apps].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
      body.replaceChildren(sorted.length
        ? h("ul", { class: "app-grid", "aria-label": "Applications" }, sorted.map(appTile))
        : h("p", { class: "empty" }, "No applications are deployed."));
    },
    fail(err) {
      figures.replaceChildren();
      body.replaceChildren(errorBox(err));
    },
  };
}

function appTile(app) {
  const deployments = app.deployments ?? [];
  const single = deployments.length === 1 && deployments[0].name === app.name;
  return h("li", { class: `app-tile${isHealthy(app.status) ? "" : " app-tile-problem"}` },
    h("div", { class: "app-tile-head" }, h("strong", { class: "app-name" }, breakable(app.name)), statusBadge(app.status)),
    h("ul", { class: "deployment-list" }, deployments.map((d) => h("li", {},
      single ? null : h("span", { class: "deployment-name" }, d.name),
      single || isHealthy(d.status) ? null : statusBadge(d.status),
      h("span", { class: "muted" }, replicaText(d.replicas)),
      d.message ? h("span", { class: "app-message" }, d.message) : null))));
}

function figure(label, value, note) {
  const id = `deploy-${label.toLowerCase().replace(/\W+/g, "-")}`;
  return h("div", { class: "stat", role: "group", "aria-labelledby": id },
    h("span", { class: "stat-label", id }, label), h("span", { class: "stat-value" }, value),
    note ? h("span", { class: "stat-note" }, note) : null);
}

const HEALTHY = new Set(["RUNNING", "HEALTHY"]);
const isHealthy = (status) => HEALTHY.has(String(status).toUpperCase());
const rank = (app) => (isHealthy(app.status) ? 2 : 0) + (app.name === "gateway" ? 0 : 1);

/** "1 running, 1 starting" from { "RUNNING": 1, "STARTING": 1 }. */
function replicaText(replicas) {
  const parts = Object.entries(replicas ?? {}).filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state.toLowerCase().replace(/_/g, " ")}`);
  return parts.length ? parts.join(", ") : "no replicas";
}

function statusBadge(status) {
  const s = String(status ?? "unknown");
  const label = s.charAt(0).toUpperCase() + s.slice(1).toLowerCase().replace(/_/g, " ");
  return badge(s.toLowerCase(), label);
}

// -- recent executions ------------------------------------------------------------------------------

function recentSection() {
  const tbody = h("tbody", {});
  const headings = ["Time", "Status", "Agent", "Latency", "Tokens in / out", "Cost", "Actor"];
  const numeric = new Set(["Latency", "Tokens in / out", "Cost"]);
  const tableEl = scrollArea("Recent executions", h("table", { class: "table", "aria-labelledby": "recent-heading" },
    h("thead", {}, h("tr", {}, headings.map((label) =>
      h("th", { scope: "col", class: numeric.has(label) ? "num" : null }, label)))),
    tbody));
  const empty = h("p", { class: "empty" }, "No agent calls yet.");
  const body = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  const element = h("section", { class: "card", "aria-labelledby": "recent-heading" },
    h("div", { class: "section-head" }, h("h2", { id: "recent-heading" }, "Recent executions"),
      h("a", { href: "#/analytics" }, "Analytics")),
    body);
  const keys = new Set();

  function show() {
    const want = tbody.children.length ? tableEl : empty;
    if (body.firstChild !== want) body.replaceChildren(want);
  }

  return {
    element,
    /** Says why there is no list. */
    unavailable(reason) {
      body.replaceChildren(h("p", { class: "empty" }, reason));
    },
    /** Replaces the list with `items` (newest first). */
    replace(items) {
      keys.clear();
      tbody.replaceChildren(...items.slice(0, KEEP).map((item) => {
        keys.add(keyOf(item));
        return executionRow(item, false);
      }));
      show();
    },
    /** Puts one streamed execution on top, keeping the latest KEEP. */
    add(item) {
      const key = keyOf(item);
      if (keys.has(key)) return;
      keys.add(key);
      tbody.prepend(executionRow(item, true));
      while (tbody.children.length > KEEP) {
        keys.delete(tbody.lastElementChild.dataset.key);
        tbody.lastElementChild.remove();
      }
      show();
    },
    fail(err) {
      body.replaceChildren(errorBox(err));
    },
  };
}

function keyOf(item) {
  return `${item.request_id}:${item.agent}`;
}

/** A streamed execution with a time: its own, or when the stream recorded it (the event id is
 * "<ms>-<n>"). */
function withTime(item, eventId) {
  if (item.created_at) return item;
  const ms = Number(String(eventId ?? "").split("-")[0]);
  return { ...item, created_at: new Date(ms > 0 ? ms : Date.now()).toISOString() };
}

function executionRow(x, fresh) {
  const at = x.created_at ? new Date(x.created_at) : null;
  const ok = x.status === "ok";
  return h("tr", { class: fresh ? "row-new" : null, dataset: { key: keyOf(x), requestId: x.request_id ?? "" } },
    h("td", { class: "nowrap" },
      at ? h("time", { datetime: at.toISOString(), title: at.toLocaleString() }, at.toLocaleTimeString()) : "–"),
    h("td", { class: "nowrap" }, badge(ok ? "ok" : "error", ok ? "OK" : "Error"),
      x.http_status ? h("span", { class: "muted" }, ` ${x.http_status}`) : null),
    h("td", {}, h("a", { href: `#/agents/${encodeURIComponent(x.agent ?? "")}` }, x.agent ?? "–"),
      x.category ? h("div", { class: "muted small" }, x.category) : null),
    h("td", { class: "num" }, fmt.ms(x.latency_ms)),
    h("td", { class: "num" }, `${fmt.number(x.input_tokens ?? 0)} / ${fmt.number(x.output_tokens ?? 0)}`),
    h("td", { class: "num" }, fmt.usd(x.cost_usd ?? 0)),
    h("td", { class: "actor", title: x.actor ?? null }, shortActor(x.actor)));
}

/** "key:f4a30697…" for "key:f4a30697-8c89-4cc3-b1ed-d2a054470573": ids shortened to their first part. */
function shortActor(actor) {
  if (!actor) return "–";
  return String(actor).replace(/\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "$1…");
}

function bucketName(seconds = 60) {
  if (seconds % 3600 === 0) return seconds === 3600 ? "hour" : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? "minute" : `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
