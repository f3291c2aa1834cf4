import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";

import {
  CycleError, addDummies, chooseOrientation, countCrossings, crossPositions, dummyId, edgePath, fitText, layers,
  layout, nodeWidthFor, orderLayers, spread, statusText, stepAgent, stepDependencies, workflowGraph,
} from "../../../dashboard/js/dag.js";

const edges = (...pairs) => pairs.map(([from, to]) => ({ from, to }));
const graphOf = (ids, pairs) => ({ nodes: ids.map((id) => ({ id, agent: `${id}_agent` })), edges: edges(...pairs) });

function overlaps(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** Points along a cubic Bézier segment. */
function samples([x0, y0], [x1, y1], orientation, n = 16) {
  const c = orientation === "vertical"
    ? [[x0, (y0 + y1) / 2], [x1, (y0 + y1) / 2]]
    : [[(x0 + x1) / 2, y0], [(x0 + x1) / 2, y1]];
  const out = [];
  for (let i = 1; i < n; i += 1) {
    const t = i / n;
    const u = 1 - t;
    const f = (k) => u ** 3 * [x0, y0][k] + 3 * u * u * t * c[0][k] + 3 * u * t * t * c[1][k] + t ** 3 * [x1, y1][k];
    out.push([f(0), f(1)]);
  }
  return out;
}

function assertClearOfBoxes(placed) {
  for (const e of placed.edges) {
    for (let i = 1; i < e.points.length; i += 1) {
      for (const [x, y] of [e.points[i - 1], ...samples(e.points[i - 1], e.points[i], placed.orientation)]) {
        for (const n of placed.nodes) {
          const inside = x > n.x + 0.5 && x < n.x + n.width - 0.5 && y > n.y + 0.5 && y < n.y + n.height - 0.5;
          assert.ok(!inside, `the edge ${e.from} -> ${e.to} passes through ${n.id}`);
        }
      }
    }
  }
}

function assertWellPlaced(placed) {
  for (const n of placed.nodes) {
    assert.ok(n.x >= 0 && n.y >= 0, `${n.id} inside the drawing`);
    assert.ok(n.x + n.width <= placed.width && n.y + n.height <= placed.height, `${n.id} inside the drawing`);
  }
  for (let i = 0; i < placed.nodes.length; i += 1) {
    for (let j = i + 1; j < placed.nodes.length; j += 1) {
      assert.ok(!overlaps(placed.nodes[i], placed.nodes[j]), `${placed.nodes[i].id} and ${placed.nodes[j].id} overlap`);
    }
  }
}

// -- dependencies ----------------------------------------------------------------------------------------------

test("stepDependencies reads depends_on and the steps referenced in input, when and for_each", () => {
  const step = {
    id: "launch",
    depends_on: ["audit"],
    input: {
      topic: "${{ steps.positioning.output.statement }}",
      nested: { list: ["Plan: ${{ steps.plan.output }} and ${{ input.date }}", 3, null] },
      keyed: "${{ steps[\"quoted\"].output }}",
      plain: "steps.not_a_reference is only text",
    },
    when: "steps.triage.output.priority in ['p1'] or ${{ steps.risk.output.score >= 70 }}",
    for_each: { items: "${{ steps.sections.output.list }}" },
  };
  assert.deepEqual(stepDependencies(step).sort(), ["audit", "plan", "positioning", "quoted", "risk", "sections", "triage"]);
  assert.deepEqual(stepDependencies({ id: "a", input: { x: "${{ input.steps }}", y: "${{ item.steps }}" } }), []);
});

test("a graph, team or chat step depends on the steps it reads and is shown by its kind", () => {
  const graph = {
    id: "loop",
    graph: {
      start: "draft",
      state: { brief: "${{ steps.brief.output.text }}" },
      nodes: [{ id: "draft", agent: "writer", input: { notes: "${{ state.brief }}" } }],
      edges: [{ from: "draft", to: "end", when: "steps.gate.output.ok == true" }],
    },
  };
  assert.deepEqual(stepDependencies(graph).sort(), ["brief", "gate"]);
  assert.equal(stepAgent(graph), "graph of 1 agent");
  const team = { id: "t", team: { goal: "${{ steps.goal.output }}", manager: "boss", members: [{ agent: "a" }, { agent: "b" }] } };
  assert.deepEqual(stepDependencies(team), ["goal"]);
  assert.equal(stepAgent(team), "team: boss + 2");
  assert.equal(stepAgent({ id: "c", chat: { participants: [{}, {}, {}] } }), "chat of 3 agents");
  assert.equal(stepAgent({ id: "s", agent: "writer" }), "writer");
});

test("workflowGraph turns a definition into nodes and edges from each dependency to its dependant", () => {
  const graph = workflowGraph({
    steps: [
      { id: "a", agent: "one", input: { x: "${{ input.q }}" } },
      { id: "b", agent: "two", input: { x: "${{ steps.a.output }}" }, for_each: { items: "${{ input.list }}" } },
      { id: "c", agent: "three", depends_on: ["a", "b"], when: "${{ steps.ghost.output }}" },
    ],
  });
  assert.deepEqual(graph.nodes, [
    { id: "a", agent: "one", forEach: false, when: null },
    { id: "b", agent: "two", forEach: true, when: null },
    { id: "c", agent: "three", forEach: false, when: "${{ steps.ghost.output }}" },
  ]);
  assert.deepEqual(graph.edges, edges(["a", "b"], ["a", "c"], ["b", "c"]));
});

// -- layers ------------------------------------------------------------------------------------------------------

test("layers: longest path from the sources, declaration order within a layer", () => {
  assert.deepEqual(layers(["a"], []), [["a"]]);
  assert.deepEqual(layers(["a", "b", "c", "d"], edges(["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"])), [["a"], ["b", "c"], ["d"]]);
  // d hangs off a and off c: it goes after c, its deepest predecessor.
  assert.deepEqual(layers(["d", "c", "b", "a"], edges(["a", "b"], ["b", "c"], ["a", "d"], ["c", "d"])), [["a"], ["b"], ["c"], ["d"]]);
  // Two independent sources and a lone node share layer 0.
  assert.deepEqual(layers(["x", "y", "lone", "z"], edges(["x", "z"], ["y", "z"])), [["x", "y", "lone"], ["z"]]);
});

test("layers rejects cycles with the cycle named, and edges to unknown nodes", () => {
  assert.throws(() => layers(["a", "b", "c"], edges(["a", "b"], ["b", "c"], ["c", "b"])), (err) => {
    assert.ok(err instanceof CycleError);
    assert.deepEqual(err.cycle, ["b", "c", "b"]);
    assert.equal(err.message, "dependency cycle: b -> c -> b");
    return true;
  });
  assert.throws(() => layers(["a"], edges(["a", "a"])), { name: "CycleError", message: "dependency cycle: a -> a" });
  assert.throws(() => layers(["a"], edges(["a", "zzz"])), /unknown node "zzz"/);
  assert.throws(() => layout(graphOf(["a", "b"], [["a", "b"], ["b", "a"]])), CycleError);
});

test("addDummies splits long edges into one virtual node per layer crossed", () => {
  const layered = [["a"], ["b"], ["c"], ["d"]];
  const split = addDummies(layered, edges(["a", "b"], ["b", "c"], ["c", "d"], ["a", "d"]));
  const d1 = dummyId("a", "d", 1);
  const d2 = dummyId("a", "d", 2);
  assert.deepEqual(split.layers, [["a"], ["b", d1], ["c", d2], ["d"]]);
  assert.deepEqual(split.chains.get("a->d"), ["a", d1, d2, "d"]);
  assert.deepEqual([...split.dummies], [d1, d2]);
  assert.equal(split.edges.length, 6);
  assert.ok(!/^[a-z][a-z0-9_]*$/.test(d1), "a virtual id can never be a step id");
});

// -- ordering ----------------------------------------------------------------------------------------------------

test("countCrossings counts pairs of edges that cross between adjacent layers", () => {
  assert.equal(countCrossings([["a", "b"], ["c", "d"]], edges(["a", "c"], ["b", "d"])), 0);
  assert.equal(countCrossings([["a", "b"], ["c", "d"]], edges(["a", "d"], ["b", "c"])), 1);
  assert.equal(countCrossings([["a", "b", "c"], ["x", "y", "z"]], edges(["a", "z"], ["b", "y"], ["c", "x"])), 3);
});

test("orderLayers removes avoidable crossings and keeps an order that has none", () => {
  const crossed = [["a", "b"], ["c", "d"], ["e", "f"]];
  const links = edges(["a", "d"], ["b", "c"], ["d", "e"], ["c", "f"]);
  assert.equal(countCrossings(crossed, links), 2);
  const ordered = orderLayers(crossed, links);
  assert.equal(countCrossings(ordered, links), 0);
  assert.deepEqual(ordered.map((l) => [...l].sort()), crossed, "the same nodes in each layer");

  const clean = [["a", "b"], ["c", "d"]];
  assert.deepEqual(orderLayers(clean, edges(["a", "c"], ["b", "d"])), clean);
  assert.deepEqual(orderLayers([["solo"]], []), [["solo"]]);
});

// -- coordinates -------------------------------------------------------------------------------------------------

test("spread keeps the order and the gaps, and is exact when the wishes allow it", () => {
  assert.deepEqual(spread([0, 100, 200], [0, 50, 50]), [0, 100, 200]);
  assert.deepEqual(spread([10, 10], [0, 40]), [-10, 30]);
  const out = spread([50, 0, 100], [0, 30, 30]);
  assert.ok(out[1] - out[0] >= 30 - 1e-9 && out[2] - out[1] >= 30 - 1e-9);
});

test("crossPositions centres a diamond's apex between its two branches", () => {
  const layered = [["a"], ["b", "c"], ["d"]];
  const centre = crossPositions(layered, edges(["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]), () => 60, { gap: 20 });
  assert.equal(centre.get("c") - centre.get("b"), 80);
  assert.equal(centre.get("a"), (centre.get("b") + centre.get("c")) / 2);
  assert.equal(centre.get("d"), centre.get("a"));
  assert.equal(Math.min(...centre.values()) - 30, 0);
});

test("layout of a single node", () => {
  const placed = layout(graphOf(["only"], []));
  assert.equal(placed.nodes.length, 1);
  assert.deepEqual(placed.edges, []);
  assert.deepEqual(placed.layers, [["only"]]);
  const [n] = placed.nodes;
  assert.equal(n.x, 12);
  assert.equal(n.y, 12);
  assert.equal(placed.width, n.width + 24);
  assert.equal(placed.height, n.height + 24);
});

test("layout of a diamond: layers left to right, the apexes centred, edges from box edge to box edge", () => {
  const placed = layout(graphOf(["a", "b", "c", "d"], [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]]));
  const at = Object.fromEntries(placed.nodes.map((n) => [n.id, n]));
  assert.deepEqual(placed.layers, [["a"], ["b", "c"], ["d"]]);
  assert.ok(at.a.x < at.b.x && at.b.x === at.c.x && at.c.x < at.d.x);
  assert.ok(at.b.y < at.c.y);
  assert.equal(at.a.y + at.a.height / 2, (at.b.y + at.c.y + at.b.height) / 2);
  assert.equal(at.d.y, at.a.y);
  assertWellPlaced(placed);
  const ab = placed.edges.find((e) => e.from === "a" && e.to === "b");
  assert.deepEqual(ab.points, [[at.a.x + at.a.width, at.a.y + at.a.height / 2], [at.b.x, at.b.y + at.b.height / 2]]);
  assert.match(ab.d, /^M[\d.]+,[\d.]+ C[\d.]+,[\d.]+ [\d.]+,[\d.]+ [\d.]+,[\d.]+$/);
});

test("layout of a fan-out and fan-in, vertically: one row per layer, boxes apart", () => {
  const ids = ["src", "w1", "w2", "w3", "w4", "join"];
  const pairs = ["w1", "w2", "w3", "w4"].flatMap((w) => [["src", w], [w, "join"]]);
  const placed = layout(graphOf(ids, pairs), { orientation: "vertical" });
  const at = Object.fromEntries(placed.nodes.map((n) => [n.id, n]));
  assert.equal(placed.orientation, "vertical");
  assert.deepEqual(placed.layers, [["src"], ["w1", "w2", "w3", "w4"], ["join"]]);
  assert.ok(at.src.y < at.w1.y && at.w1.y < at.join.y);
  assert.ok(["w2", "w3", "w4"].every((w) => at[w].y === at.w1.y));
  assert.ok(at.w1.x < at.w2.x && at.w2.x < at.w3.x && at.w3.x < at.w4.x);
  assertWellPlaced(placed);
  const middle = (at.w1.x + at.w4.x + at.w4.width) / 2;
  assert.ok(Math.abs(at.src.x + at.src.width / 2 - middle) < 1e-6);
  assert.ok(Math.abs(at.join.x + at.join.width / 2 - middle) < 1e-6);
  const down = placed.edges.find((e) => e.from === "src" && e.to === "w3");
  assert.deepEqual(down.points[0], [at.src.x + at.src.width / 2, at.src.y + at.src.height]);
  assert.deepEqual(down.points.at(-1), [at.w3.x + at.w3.width / 2, at.w3.y]);
});

test("layout routes a long edge straight across the layers it passes, clear of every box", () => {
  const placed = layout(graphOf(["a", "b", "c", "d"], [["a", "b"], ["b", "c"], ["c", "d"], ["a", "d"]]));
  const long = placed.edges.find((e) => e.from === "a" && e.to === "d");
  const at = Object.fromEntries(placed.nodes.map((n) => [n.id, n]));
  // out of a, two points per layer crossed (entering and leaving it at the same height), into d
  assert.equal(long.points.length, 6);
  assert.equal((long.d.match(/C/g) ?? []).length, 5);
  assert.deepEqual([long.points[1][0], long.points[2][0]], [at.b.x, at.b.x + at.b.width]);
  assert.equal(long.points[1][1], long.points[2][1]);
  assertClearOfBoxes(placed);
  assertWellPlaced(placed);
});

test("every shipped workflow lays out in both orientations: no box overlaps another or an edge", () => {
  const dir = new URL("../../../definitions/workflows/", import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  assert.ok(files.length >= 1);
  for (const file of files) {
    // A small reader for the parts of the YAML needed here: step ids, agents and ${{ steps.x }} text.
    const text = readFileSync(new URL(file, dir), "utf8");
    const body = text.split(/^steps:\s*$/m)[1].split(/^outputs:\s*$/m)[0];
    const steps = body.split(/^ {2}- id: /m).slice(1).map((chunk) => ({
      id: chunk.split("\n")[0].trim(),
      agent: /^ {4}agent: (\S+)/m.exec(chunk)?.[1],
      depends_on: /^ {4}depends_on: \[([^\]]*)\]/m.exec(chunk)?.[1].split(",").map((s) => s.trim()) ?? [],
      input: chunk,
      when: /^ {4}when: (.*)$/m.exec(chunk)?.[1] ?? null,
    }));
    const graph = workflowGraph({ steps });
    assert.ok(graph.edges.length > 0 || steps.length === 1, `${file} has dependencies`);
    for (const orientation of ["horizontal", "vertical"]) {
      const placed = layout(graph, { orientation });
      assert.equal(placed.nodes.length, steps.length, file);
      assertWellPlaced(placed);
      assertClearOfBoxes(placed);
      for (const e of placed.edges) {
        const from = placed.nodes.find((n) => n.id === e.from);
        const to = placed.nodes.find((n) => n.id === e.to);
        assert.ok(from.layer < to.layer, `${file}: ${e.from} before ${e.to}`);
      }
    }
  }
});

// -- helpers -------------------------------------------------------------------------------------------------------

test("edgePath draws one cubic per segment with tangents along the layers' direction", () => {
  assert.equal(edgePath([[0, 0], [100, 50]]), "M0,0 C50,0 50,50 100,50");
  assert.equal(edgePath([[0, 0], [40, 100]], "vertical"), "M0,0 C0,50 40,50 40,100");
  assert.equal(edgePath([[0, 0], [10, 10], [20, 0]]), "M0,0 C5,0 5,10 10,10 C15,10 15,0 20,0");
});

test("nodeWidthFor, fitText, statusText and chooseOrientation", () => {
  assert.equal(nodeWidthFor([{ id: "a", agent: "b" }]), 150);
  assert.equal(nodeWidthFor([{ id: "a", agent: "x".repeat(80) }]), 230);
  assert.equal(fitText("abcdef", 6), "abcdef");
  assert.equal(fitText("abcdefg", 6), "abcde…");
  assert.deepEqual(statusText("succeeded"), { icon: "✓", label: "succeeded" });
  assert.deepEqual(statusText("not_run"), { icon: "–", label: "not run" });
  assert.equal(statusText("weird_state").label, "weird state");
  const wide = { width: 1000 };
  const tall = { width: 400 };
  assert.equal(chooseOrientation(wide, tall, 1200), "horizontal");
  assert.equal(chooseOrientation(wide, tall, 800), "horizontal");
  assert.equal(chooseOrientation(wide, tall, 360), "vertical");
  assert.equal(chooseOrientation({ width: 300 }, { width: 500 }, 200), "horizontal");
  assert.equal(chooseOrientation(wide, tall, 0), "horizontal");
});
