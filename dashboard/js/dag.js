// A workflow's steps as a layered graph: the layout (longest-path layers, barycentre ordering, coordinates,
// curved edges) as pure functions, and an SVG view whose nodes can be selected and restyled by status.

import { h } from "./dom.js";

const SVG = "svg:";

/** Thrown when the steps depend on each other in a cycle; `cycle` lists it, first node repeated last. */
export class CycleError extends Error {
  constructor(cycle) {
    super(`dependency cycle: ${cycle.join(" -> ")}`);
    this.name = "CycleError";
    this.cycle = cycle;
  }
}

// -- the graph of a definition --------------------------------------------------------------------------

const TEMPLATE = /\$\{\{([\s\S]*?)\}\}/g;
const STEP_REF = /(?<![\w.])steps\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(["'])([^"']*)\2\s*\])/g;

function stepRefs(expression, into) {
  for (const found of expression.matchAll(STEP_REF)) into.add(found[1] ?? found[3]);
}

function templateRefs(value, into) {
  if (typeof value === "string") {
    for (const found of value.matchAll(TEMPLATE)) stepRefs(found[1], into);
  } else if (Array.isArray(value)) {
    for (const item of value) templateRefs(item, into);
  } else if (value && typeof value === "object") {
    for (const item of Object.values(value)) templateRefs(item, into);
  }
}

/** The ids of the steps a step depends on: its `depends_on` and the steps its `input`, `when`,
 * `for_each.items` and graph, team or chat reference (`${{ steps.<id>... }}`). */
export function stepDependencies(step) {
  const found = new Set(step?.depends_on ?? []);
  templateRefs(step?.input ?? {}, found);
  templateRefs(step?.for_each?.items ?? "", found);
  if (typeof step?.when === "string") stepRefs(step.when, found);
  const pattern = step?.graph ?? step?.team ?? step?.chat;
  if (pattern) templateRefs(pattern, found); // a graph, team or chat reads earlier steps too
  for (const edge of step?.graph?.edges ?? []) if (typeof edge?.when === "string") stepRefs(edge.when, found);
  return [...found];
}

/** "graph", "team" or "chat" for a collaboration step of a workflow definition, else "agent". */
export function stepKind(step) {
  return ["graph", "team", "chat"].find((kind) => step?.[kind]) ?? "agent";
}

/** What a step runs, as its box shows it: the agent, or the kind of collaboration and its size. */
export function stepAgent(step) {
  const agents = (n) => `${n} agent${n === 1 ? "" : "s"}`;
  switch (stepKind(step)) {
    case "graph": return `graph of ${agents(step.graph.nodes?.length ?? 0)}`;
    case "team": return `team: ${step.team.manager} + ${step.team.members?.length ?? 0}`;
    case "chat": return `chat of ${agents(step.chat.participants?.length ?? 0)}`;
    default: return step?.agent ?? "";
  }
}

/** A workflow definition as { nodes: [{ id, agent, forEach, when }], edges: [{ from, to }] }, an edge
 * running from a step to the step that depends on it. References to unknown steps are left out. */
export function workflowGraph(definition) {
  const steps = definition?.steps ?? [];
  const ids = new Set(steps.map((s) => s.id));
  const nodes = steps.map((s) => ({ id: s.id, agent: stepAgent(s), forEach: Boolean(s.for_each), when: s.when ?? null }));
  const edges = [];
  for (const step of steps) {
    for (const need of stepDependencies(step)) {
      if (ids.has(need)) edges.push({ from: need, to: step.id }); // a step naming itself is a cycle
    }
  }
  return { nodes, edges };
}

// -- layers -----------------------------------------------------------------------------------------------

function adjacency(ids, edges) {
  const preds = new Map(ids.map((id) => [id, []]));
  const succs = new Map(ids.map((id) => [id, []]));
  for (const { from, to } of edges) {
    if (!preds.has(from)) throw new Error(`an edge starts at an unknown node "${from}"`);
    if (!preds.has(to)) throw new Error(`an edge ends at an unknown node "${to}"`);
    preds.get(to).push(from);
    succs.get(from).push(to);
  }
  return { preds, succs };
}

function findCycle(ids, succs, blocked) {
  const state = new Map(); // 1: on the path, 2: done
  for (const start of ids) {
    if (!blocked.has(start) || state.has(start)) continue;
    const path = [];
    const stack = [[start, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      if (i === 0) {
        state.set(node, 1);
        path.push(node);
      }
      const next = succs.get(node).filter((n) => blocked.has(n));
      if (i < next.length) {
        top[1] += 1;
        const target = next[i];
        if (state.get(target) === 1) return [...path.slice(path.indexOf(target)), target];
        if (!state.has(target)) stack.push([target, 0]);
        continue;
      }
      state.set(node, 2);
      path.pop();
      stack.pop();
    }
  }
  return [...blocked].slice(0, 1);
}

/**
 * Longest-path layering: a node with no predecessor is in layer 0, any other one layer after its
 * deepest predecessor. Returns the layers as lists of node ids, each in the order of `ids`.
 * Throws CycleError when the edges form a cycle.
 */
export function layers(ids, edges) {
  const { preds, succs } = adjacency(ids, edges);
  const waiting = new Map(ids.map((id) => [id, preds.get(id).length]));
  const layerOf = new Map();
  const queue = ids.filter((id) => waiting.get(id) === 0);
  for (const id of queue) layerOf.set(id, 0);
  for (let i = 0; i < queue.length; i += 1) {
    const node = queue[i];
    for (const next of succs.get(node)) {
      layerOf.set(next, Math.max(layerOf.get(next) ?? 0, layerOf.get(node) + 1));
      waiting.set(next, waiting.get(next) - 1);
      if (waiting.get(next) === 0) queue.push(next);
    }
  }
  if (queue.length < ids.length) {
    const blocked = new Set(ids.filter((id) => waiting.get(id) > 0));
    throw new CycleError(findCycle(ids, succs, blocked));
  }
  const result = [];
  for (const id of ids) {
    const layer = layerOf.get(id);
    while (result.length <= layer) result.push([]);
    result[layer].push(id);
  }
  return result;
}

/** The id of the k-th virtual node on the long edge from `from` to `to` (never a valid step id). */
export function dummyId(from, to, k) {
  return `${from}->${to}#${k}`;
}

/**
 * Splits edges spanning more than one layer with virtual nodes, one per layer crossed. Returns
 * { layers, edges (each between adjacent layers), chains: Map "from->to" -> [from, ...virtual, to],
 * dummies: Set }. Each virtual node is put after the real ones of its layer.
 */
export function addDummies(layered, edges) {
  const layerOf = new Map();
  layered.forEach((layer, i) => layer.forEach((id) => layerOf.set(id, i)));
  const out = layered.map((layer) => [...layer]);
  const short = [];
  const chains = new Map();
  const dummies = new Set();
  for (const { from, to } of edges) {
    const span = layerOf.get(to) - layerOf.get(from);
    const chain = [from];
    for (let k = 1; k < span; k += 1) {
      const id = dummyId(from, to, k);
      dummies.add(id);
      out[layerOf.get(from) + k].push(id);
      chain.push(id);
    }
    chain.push(to);
    for (let i = 1; i < chain.length; i += 1) short.push({ from: chain[i - 1], to: chain[i] });
    chains.set(`${from}->${to}`, chain);
  }
  return { layers: out, edges: short, chains, dummies };
}

// -- ordering within layers ---------------------------------------------------------------------------------

/** How many pairs of edges cross between adjacent layers (edges must join adjacent layers). */
export function countCrossings(layered, edges) {
  const where = new Map();
  layered.forEach((layer, l) => layer.forEach((id, i) => where.set(id, [l, i])));
  const byLayer = new Map();
  for (const { from, to } of edges) {
    const [lf, pf] = where.get(from);
    const [, pt] = where.get(to);
    if (!byLayer.has(lf)) byLayer.set(lf, []);
    byLayer.get(lf).push([pf, pt]);
  }
  let crossings = 0;
  for (const list of byLayer.values()) {
    for (let i = 0; i < list.length; i += 1) {
      for (let j = i + 1; j < list.length; j += 1) {
        const [a1, b1] = list[i];
        const [a2, b2] = list[j];
        if ((a1 - a2) * (b1 - b2) < 0) crossings += 1;
      }
    }
  }
  return crossings;
}

function sortByBarycentre(layer, neighbours, position) {
  const keyed = layer.map((id, i) => {
    const around = neighbours.get(id).filter((n) => position.has(n));
    const key = around.length ? around.reduce((sum, n) => sum + position.get(n), 0) / around.length : i;
    return { id, key, i };
  });
  keyed.sort((a, b) => a.key - b.key || a.i - b.i);
  return keyed.map((k) => k.id);
}

/**
 * Orders the nodes of each layer to reduce edge crossings: barycentre sweeps down and up (`sweeps`
 * rounds), keeping the order with the fewest crossings (the latest sweep wins ties). Edges must join
 * adjacent layers (see addDummies). Returns new layer lists.
 */
export function orderLayers(layered, edges, { sweeps = 4 } = {}) {
  const ids = layered.flat();
  const { preds, succs } = adjacency(ids, edges);
  let current = layered.map((layer) => [...layer]);
  let best = current;
  let fewest = countCrossings(current, edges);
  const positions = (layer) => new Map(layer.map((id, i) => [id, i]));
  for (let round = 0; round < sweeps; round += 1) {
    const next = current.map((layer) => [...layer]);
    for (let l = 1; l < next.length; l += 1) next[l] = sortByBarycentre(next[l], preds, positions(next[l - 1]));
    for (let l = next.length - 2; l >= 0; l -= 1) next[l] = sortByBarycentre(next[l], succs, positions(next[l + 1]));
    const crossings = countCrossings(next, edges);
    if (crossings <= fewest) { // on a tie the sweeps' order wins: it sits nodes nearer their neighbours
      fewest = crossings;
      best = next;
    }
    current = next;
  }
  return best.map((layer) => [...layer]);
}

// -- coordinates --------------------------------------------------------------------------------------------

/** Least-squares positions for wanted centres in a fixed order, each at least `gaps[i]` after the one
 * before (pool-adjacent-violators on the centres minus their cumulative gaps). */
export function spread(wanted, gaps) {
  const offset = [];
  let sum = 0;
  for (let i = 0; i < wanted.length; i += 1) {
    sum += i ? gaps[i] : 0;
    offset.push(sum);
  }
  const blocks = []; // { total, count }
  for (let i = 0; i < wanted.length; i += 1) {
    blocks.push({ total: wanted[i] - offset[i], count: 1 });
    while (blocks.length > 1) {
      const b = blocks[blocks.length - 1];
      const a = blocks[blocks.length - 2];
      if (a.total / a.count <= b.total / b.count) break;
      blocks.splice(blocks.length - 2, 2, { total: a.total + b.total, count: a.count + b.count });
    }
  }
  const out = [];
  for (const { total, count } of blocks) for (let k = 0; k < count; k += 1) out.push(total / count + offset[out.length]);
  return out;
}

/**
 * Centres of the nodes across the layers' direction: nodes of a layer in order, `gap` apart (plus
 * their `size(id)`), pulled toward the mean of their neighbours in a few passes. Returns a Map id ->
 * centre, the smallest edge at 0 (so the smallest centre is size/2).
 */
export function crossPositions(layered, edges, size, { gap = 24, passes = 8 } = {}) {
  const ids = layered.flat();
  const { preds, succs } = adjacency(ids, edges);
  const centre = new Map();
  const extent = (layer) => layer.reduce((sum, id, i) => sum + size(id) + (i ? gap : 0), 0);
  const widest = Math.max(0, ...layered.map(extent));
  for (const layer of layered) {
    let at = (widest - extent(layer)) / 2;
    for (const id of layer) {
      centre.set(id, at + size(id) / 2);
      at += size(id) + gap;
    }
  }
  const gapsOf = (layer) => layer.map((id, i) => (i ? (size(layer[i - 1]) + size(id)) / 2 + gap : 0));
  for (let pass = 0; pass < passes; pass += 1) {
    const order = pass % 2 === 0 ? layered.map((_, i) => i) : layered.map((_, i) => layered.length - 1 - i);
    for (const l of order) {
      const layer = layered[l];
      const wanted = layer.map((id) => {
        const around = [...preds.get(id), ...succs.get(id)];
        return around.length ? around.reduce((sum, n) => sum + centre.get(n), 0) / around.length : centre.get(id);
      });
      spread(wanted, gapsOf(layer)).forEach((c, i) => centre.set(layer[i], c));
    }
  }
  const low = Math.min(...ids.map((id) => centre.get(id) - size(id) / 2));
  for (const id of ids) centre.set(id, centre.get(id) - low);
  return centre;
}

/** An SVG path through `points` ([x, y] pairs) of cubic curves whose tangents follow the layers'
 * direction: along x for "horizontal", along y for "vertical". */
export function edgePath(points, orientation = "horizontal") {
  const r = (n) => Math.round(n * 10) / 10;
  let d = `M${r(points[0][0])},${r(points[0][1])}`;
  for (let i = 1; i < points.length; i += 1) {
    const [x0, y0] = points[i - 1];
    const [x1, y1] = points[i];
    if (orientation === "vertical") {
      const m = (y1 - y0) / 2;
      d += ` C${r(x0)},${r(y0 + m)} ${r(x1)},${r(y1 - m)} ${r(x1)},${r(y1)}`;
    } else {
      const m = (x1 - x0) / 2;
      d += ` C${r(x0 + m)},${r(y0)} ${r(x1 - m)},${r(y1)} ${r(x1)},${r(y1)}`;
    }
  }
  return d;
}

/** The width of a node box fitting a step id and an agent name, within [min, max]. */
export function nodeWidthFor(nodes, { min = 150, max = 230 } = {}) {
  const need = Math.max(0, ...nodes.map((n) => Math.max(String(n.id).length * 8, String(n.agent ?? "").length * 6.6)));
  return Math.round(Math.min(max, Math.max(min, need + 30)));
}

/** `text` cut to `chars` characters, ending in an ellipsis when cut. */
export function fitText(text, chars) {
  const s = String(text ?? "");
  return s.length <= chars ? s : `${s.slice(0, Math.max(1, chars - 1))}…`;
}

const DEFAULTS = {
  horizontal: { nodeHeight: 66, layerGap: 56, gap: 18, margin: 12, dummySize: 8 },
  vertical: { nodeHeight: 66, layerGap: 44, gap: 16, margin: 12, dummySize: 8 },
};

/**
 * The layout of a graph ({ nodes: [{ id, ... }], edges: [{ from, to }] }) in layers along x
 * ("horizontal") or y ("vertical"). Returns { orientation, width, height, layers (real ids), nodes:
 * [{ ...node, x, y, width, height, layer, order }], edges: [{ from, to, points, d }] } with x, y the
 * top-left corner of each box and `d` an SVG path from the source's edge to the target's.
 * Throws CycleError on a cycle.
 */
export function layout(graph, options = {}) {
  const orientation = options.orientation === "vertical" ? "vertical" : "horizontal";
  const o = { ...DEFAULTS[orientation], ...options };
  const nodeWidth = o.nodeWidth ?? nodeWidthFor(graph.nodes);
  const ids = graph.nodes.map((n) => n.id);
  const real = layers(ids, graph.edges);
  const split = addDummies(real, graph.edges);
  const ordered = orderLayers(split.layers, split.edges, { sweeps: o.sweeps ?? 4 });
  const horizontal = orientation === "horizontal";
  const cross = horizontal ? o.nodeHeight : nodeWidth; // a box's size across the layers' direction
  const along = horizontal ? nodeWidth : o.nodeHeight;
  const size = (id) => (split.dummies.has(id) ? o.dummySize : cross);
  const centre = crossPositions(ordered, split.edges, size, { gap: o.gap });
  const rank = (l) => o.margin + l * (along + o.layerGap);
  const place = new Map();
  ordered.forEach((layer, l) => layer.forEach((id, i) => {
    const c = o.margin + centre.get(id);
    place.set(id, { layer: l, order: i, c, a: rank(l) });
  }));
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const nodes = ordered.flatMap((layer) => layer.filter((id) => byId.has(id) && !split.dummies.has(id)).map((id) => {
    const p = place.get(id);
    return {
      ...byId.get(id), layer: p.layer, order: p.order, width: nodeWidth, height: o.nodeHeight,
      x: horizontal ? p.a : p.c - nodeWidth / 2,
      y: horizontal ? p.c - o.nodeHeight / 2 : p.a,
    };
  }));
  const at = (a, c) => (horizontal ? [a, c] : [c, a]);
  // An edge leaves its source's far side, crosses each layer between as a straight run at its virtual
  // node's place, and enters its target's near side: it never passes through a box.
  const stops = (id, i) => {
    const p = place.get(id);
    if (split.dummies.has(id)) return [at(p.a, p.c), at(p.a + along, p.c)];
    return [at(i === 0 ? p.a + along : p.a, p.c)];
  };
  const edges = graph.edges.map(({ from, to }) => {
    const chain = split.chains.get(`${from}->${to}`);
    const points = chain.flatMap((id, i) => stops(id, i));
    return { from, to, points, d: edgePath(points, orientation) };
  });
  const extentCross = Math.max(0, ...[...place.entries()].map(([id, p]) => p.c + size(id) / 2)) + o.margin;
  const extentAlong = rank(Math.max(0, ordered.length - 1)) + along + o.margin;
  return {
    orientation,
    width: Math.ceil(horizontal ? extentAlong : extentCross),
    height: Math.ceil(horizontal ? extentCross : extentAlong),
    layers: ordered.map((layer) => layer.filter((id) => !split.dummies.has(id))),
    nodes,
    edges,
  };
}

/** "horizontal" when that layout fits `available` pixels scaled down to no less than `minScale`;
 * otherwise whichever of the two is narrower. */
export function chooseOrientation(horizontal, vertical, available, minScale = 0.8) {
  if (!available || horizontal.width * minScale <= available) return "horizontal";
  return vertical.width < horizontal.width ? "vertical" : "horizontal";
}

// -- statuses -------------------------------------------------------------------------------------------------

const STATUS = {
  pending: { icon: "○", label: "pending" },
  running: { icon: "◐", label: "running" },
  succeeded: { icon: "✓", label: "succeeded" },
  failed: { icon: "✕", label: "failed" },
  skipped: { icon: "↷", label: "skipped" },
  cancelled: { icon: "⊘", label: "cancelled" },
  not_run: { icon: "–", label: "not run" },
};

/** The icon and words shown for a step status ("succeeded" -> { icon: "✓", label: "succeeded" }). */
export function statusText(status) {
  return STATUS[status] ?? { icon: "•", label: String(status ?? "unknown").replaceAll("_", " ") };
}

function normalise(value) {
  if (value && typeof value === "object") return { status: value.status ?? "pending", note: value.note ?? "" };
  return { status: value ?? "pending", note: "" };
}

// -- the view -------------------------------------------------------------------------------------------------

let views = 0;
const VERTICAL_WIDTH = 160;

/**
 * An SVG drawing of a workflow graph (see workflowGraph) in a scrolling wrapper.
 * Options: `onSelect(stepId)` (a node clicked, or Enter/Space on it), `statuses` ({ id: status or
 * { status, note } }), `orientation` ("auto", "horizontal" or "vertical"), `title`, `signal` (its abort
 * stops watching the size). Returns { element, update(statuses), select(id) }: `update` restyles the
 * nodes (and the edges leaving them) without a new layout.
 */
export function dagView(graph, options = {}) {
  const { onSelect, statuses = {}, orientation = "auto", title = "Workflow graph", signal } = options;
  views += 1;
  const uid = `dag${views}`;
  const state = new Map(graph.nodes.map((n) => [n.id, normalise(statuses[n.id])]));
  let chosen = null;
  let drawn = null; // { orientation, svg, nodes: Map id -> g, edges: [{ from, path }] }
  const layouts = {};
  // Vertical is the narrow-screen form: its boxes are narrower (agent names cut shorter, step ids whole).
  const narrow = Math.min(nodeWidthFor(graph.nodes), Math.max(VERTICAL_WIDTH, nodeWidthFor(graph.nodes.map((n) => ({ id: n.id })))));
  const layoutFor = (which) => (layouts[which] ??= layout(graph, which === "vertical"
    ? { orientation: which, nodeWidth: narrow }
    : { orientation: which }));
  const element = h("div", { class: "dag-wrap" });

  function styleNode(g, id) {
    const { status, note } = state.get(id);
    const text = statusText(status);
    g.setAttribute("class", ["dag-node", `status-${status}`, id === chosen && "selected"].filter(Boolean).join(" "));
    g.setAttribute("aria-pressed", String(id === chosen));
    g.querySelector(".dag-icon").textContent = text.icon;
    g.querySelector(".dag-status-label").textContent = note ? `${text.label} · ${note}` : text.label;
  }

  function styleEdges() {
    for (const { from, to, path } of drawn.edges) {
      const source = state.get(from).status;
      const target = state.get(to).status;
      const cls = ["dag-edge", `from-${source}`, target === "running" && "active", (from === chosen || to === chosen) && "near"];
      path.setAttribute("class", cls.filter(Boolean).join(" "));
    }
  }

  function draw(which) {
    const placed = layoutFor(which);
    const agentChars = Math.floor(((placed.nodes[0]?.width ?? 150) - 30) / 6.3);
    const nodes = new Map();
    const edgePaths = [];
    const svg = h(`${SVG}svg`, {
      class: `dag-svg dag-${which}`, viewBox: `0 0 ${placed.width} ${placed.height}`,
      role: "group", "aria-labelledby": `${uid}-title`, "aria-describedby": `${uid}-desc`,
    },
    h(`${SVG}title`, { id: `${uid}-title` }, title),
    h(`${SVG}desc`, { id: `${uid}-desc` },
      `${graph.nodes.length} steps in ${placed.layers.length} stages. `,
      placed.layers.map((layer, i) => `Stage ${i + 1}: ${layer.join(", ")}.`).join(" ")),
    h(`${SVG}defs`, {},
      h(`${SVG}marker`, {
        id: `${uid}-arrow`, viewBox: "0 0 10 10", refX: "9", refY: "5", markerUnits: "userSpaceOnUse",
        markerWidth: "10", markerHeight: "10", orient: "auto-start-reverse",
      }, h(`${SVG}path`, { class: "dag-arrow", d: "M0,0 L10,5 L0,10 z" }))),
    h(`${SVG}g`, { class: "dag-edges", "aria-hidden": "true" }, placed.edges.map((e) => {
      const path = h(`${SVG}path`, { class: "dag-edge", d: e.d, "marker-end": `url(#${uid}-arrow)` });
      edgePaths.push({ from: e.from, to: e.to, path });
      return path;
    })),
    h(`${SVG}g`, { class: "dag-nodes" }, placed.nodes.map((n, i) => {
      // The name is the box's own visible text: step, flags, agent, status.
      const part = (name) => `${uid}-${which}-${i}-${name}`;
      const flagged = n.forEach || n.when;
      const g = h(`${SVG}g`, {
        transform: `translate(${n.x},${n.y})`, tabindex: "0", role: "button", "data-step": n.id,
        "aria-labelledby": [part("id"), flagged && part("flag"), part("agent"), part("status")].filter(Boolean).join(" "),
        onclick: () => choose(n.id, true),
        onkeydown: (event) => onKey(event, n.id),
      },
      h(`${SVG}rect`, { class: "dag-box", width: n.width, height: n.height, rx: "10", ry: "10" }),
      h(`${SVG}rect`, { class: "dag-stripe", x: "0", y: "0", width: "6", height: n.height, rx: "3", ry: "3" }),
      // In reading order, each ending in a space: the name is exactly the text that shows.
      h(`${SVG}text`, { id: part("id"), class: "dag-id", x: "16", y: "22" }, fitText(n.id, Math.floor((n.width - 30) / 8)), " "),
      flagged
        ? h(`${SVG}text`, { id: part("flag"), class: "dag-flag", x: n.width - 10, y: "22", "text-anchor": "end" },
          [n.forEach ? "each" : null, n.when ? "if" : null].filter(Boolean).join(" · "), " ")
        : null,
      h(`${SVG}text`, { id: part("agent"), class: "dag-agent", x: "16", y: "39" }, fitText(n.agent, agentChars), " "),
      h(`${SVG}text`, { id: part("status"), class: "dag-status", x: "16", y: "57" },
        h(`${SVG}tspan`, { class: "dag-icon" }, ""), " ", h(`${SVG}tspan`, { class: "dag-status-label" }, ""), " "));
      nodes.set(n.id, g);
      return g;
    })));
    svg.style.width = `${placed.width}px`;
    svg.style.minWidth = `${Math.round(placed.width * 0.8)}px`;
    const focused = drawn && [...drawn.nodes.entries()].find(([, g]) => g === document.activeElement)?.[0];
    element.replaceChildren(svg);
    drawn = { orientation: which, svg, nodes, edges: edgePaths };
    for (const id of nodes.keys()) styleNode(nodes.get(id), id);
    styleEdges();
    if (focused) nodes.get(focused)?.focus();
  }

  function choose(id, fromUser) {
    chosen = id;
    if (drawn) {
      for (const [key, g] of drawn.nodes) styleNode(g, key);
      styleEdges();
    }
    if (fromUser) onSelect?.(id);
  }

  function onKey(event, id) {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      choose(id, true);
      return;
    }
    const order = [...drawn.nodes.keys()];
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const next = order[(order.indexOf(id) + step + order.length) % order.length];
    drawn.nodes.get(next).focus();
  }

  function fit() {
    if (orientation !== "auto") return;
    const available = element.clientWidth;
    if (!available) return;
    const which = chooseOrientation(layoutFor("horizontal"), layoutFor("vertical"), available);
    if (which !== drawn?.orientation) draw(which);
  }

  draw(orientation === "vertical" ? "vertical" : "horizontal");
  const observer = typeof ResizeObserver === "function" && orientation === "auto" ? new ResizeObserver(fit) : null;
  observer?.observe(element);
  signal?.addEventListener("abort", () => observer?.disconnect());

  return {
    element,
    update(next) {
      for (const [id, value] of Object.entries(next ?? {})) if (state.has(id)) state.set(id, normalise(value));
      for (const [id, g] of drawn.nodes) styleNode(g, id);
      styleEdges();
    },
    select(id) {
      choose(id, false);
    },
  };
}
