import assert from "node:assert/strict";
import { test } from "node:test";

import { stepKind } from "../../../dashboard/js/dag.js";
import { turnEvent, turnKey, turnSignature, turnsByStep } from "../../../dashboard/js/turns.js";

const record = (step, seq, changes = {}) => ({
  step, seq, role: `r${seq}`, agent: "a", status: "succeeded", input: { n: seq }, output: { ok: seq }, state: null,
  error: null, tokens: 10, attempts: 1, started_at: "2025-01-01T00:00:00Z", finished_at: "2025-01-01T00:00:01Z",
  ...changes,
});

test("turnEvent reads turn.started and turn.finished, and nothing else", () => {
  const started = turnEvent("turn.started", { run: "r", step: "copy", seq: 2, role: "voice", agent: "checker", at: "t" });
  assert.deepEqual(started, { step: "copy", seq: 2, role: "voice", agent: "checker", status: "running", tokens: 0, error: null });
  assert.equal(turnKey(started), "copy/2");

  const failed = { type: "upstream_error", message: "503" };
  assert.deepEqual(turnEvent("turn.finished", { step: "copy", seq: 2, role: "voice", agent: "checker", status: "failed", tokens: 7, error: failed }),
    { step: "copy", seq: 2, role: "voice", agent: "checker", status: "failed", tokens: 7, error: failed });
  assert.equal(turnEvent("turn.finished", { step: "s", seq: 1 }).status, "succeeded", "no status and no error: it succeeded");
  assert.equal(turnEvent("turn.finished", { step: "s", seq: 1, error: failed }).status, "failed");

  assert.equal(turnEvent("step.started", { step: "s", seq: 1 }), null);
  assert.equal(turnEvent("turn.started", { step: "s" }), null);
  assert.equal(turnEvent("turn.started", { step: "s", seq: "1" }), null);
  assert.equal(turnEvent("turn.finished", null), null);
});

test("turnsByStep groups the run's turns by step, each in seq order", () => {
  const steps = turnsByStep([record("b", 2), record("a", 1), record("b", 1), record("a", 3)]);
  assert.deepEqual([...steps.keys()].sort(), ["a", "b"]);
  assert.deepEqual(steps.get("a").map((t) => t.seq), [1, 3]);
  assert.deepEqual(steps.get("b").map((t) => t.seq), [1, 2]);
  assert.equal(turnsByStep(undefined).size, 0);
  assert.equal(turnsByStep(null, []).size, 0);
});

test("turnsByStep adds what the events said ahead of the records, and never goes back", () => {
  const records = [record("a", 1), record("a", 2, { status: "running", output: null, tokens: 0, finished_at: null })];
  const live = [
    turnEvent("turn.finished", { step: "a", seq: 1, role: "r1", agent: "a", status: "succeeded", tokens: 10 }),
    turnEvent("turn.finished", { step: "a", seq: 2, role: "r2", agent: "a", status: "failed", tokens: 3, error: { type: "x" } }),
    turnEvent("turn.started", { step: "a", seq: 3, role: "r3", agent: "b" }),
  ];
  const [one, two, three] = turnsByStep(records, live).get("a");
  assert.deepEqual(one, records[0], "a finished record stays as fetched");
  assert.deepEqual(two, { ...records[1], status: "failed", tokens: 3, error: { type: "x" } }, "the record keeps its input");
  assert.deepEqual(three, { step: "a", seq: 3, role: "r3", agent: "b", status: "running", tokens: 0, error: null });
  assert.ok(!("input" in three), "a turn known only from an event has no input yet");

  const behind = [turnEvent("turn.started", { step: "a", seq: 1, role: "r1", agent: "a" })];
  assert.deepEqual(turnsByStep([record("a", 1)], behind).get("a"), [record("a", 1)], "a stale started event changes nothing");
});

test("turnSignature changes when what a turn shows changes", () => {
  const running = record("a", 1, { status: "running", output: null, finished_at: null });
  const done = record("a", 1);
  assert.notEqual(turnSignature(running), turnSignature(done));
  assert.equal(turnSignature(done), turnSignature({ ...done }));
  const again = { ...running, started_at: "2025-01-01T00:01:00Z" };
  assert.notEqual(turnSignature(running), turnSignature(again), "recorded again: a new start");
  const { input, ...fromEvent } = running;
  assert.notEqual(turnSignature(fromEvent), turnSignature(running), "the record arrived with the input");
  assert.notEqual(turnSignature(done), turnSignature({ ...done, error: { type: "x" } }));
});

test("stepKind names a step's collaboration", () => {
  assert.equal(stepKind({ id: "s", graph: { nodes: [] } }), "graph");
  assert.equal(stepKind({ id: "s", team: { manager: "m" } }), "team");
  assert.equal(stepKind({ id: "s", chat: { participants: [] } }), "chat");
  assert.equal(stepKind({ id: "s", agent: "x" }), "agent");
  assert.equal(stepKind(undefined), "agent");
});
