import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DAY, HOUR, MINUTE, dayRange, daysBefore, fillBuckets, isoDay, labelStep, linePath, linearScale, lone, niceStep,
  niceTicks, pivot, sparkPath, stack, stackTotals, sumFields, timeBuckets, timeTicks, truncate,
} from "../../../dashboard/js/charts.js";

test("niceStep rounds up to 1, 2 or 5 times a power of ten", () => {
  assert.equal(niceStep(0.7), 1);
  assert.equal(niceStep(1.3), 2);
  assert.equal(niceStep(19.4), 20);
  assert.equal(niceStep(31), 50);
  assert.equal(niceStep(51), 100);
  assert.equal(niceStep(0.0925), 0.1);
  assert.equal(niceStep(0), 1);
  assert.equal(niceStep(Number.NaN), 1);
});

test("niceTicks covers the range with round steps", () => {
  assert.deepEqual(niceTicks(0, 97, 5), { min: 0, max: 100, step: 20, ticks: [0, 20, 40, 60, 80, 100] });
  assert.deepEqual(niceTicks(0, 0.37, 4).ticks, [0, 0.1, 0.2, 0.3, 0.4]);
  assert.deepEqual(niceTicks(12, 58, 4).ticks, [0, 20, 40, 60]);
  assert.deepEqual(niceTicks(12, 58, 8).ticks, [10, 20, 30, 40, 50, 60]);
  assert.deepEqual(niceTicks(-7, 7, 4).ticks, [-10, -5, 0, 5, 10]);
});

test("niceTicks keeps counts whole and survives empty ranges", () => {
  assert.deepEqual(niceTicks(0, 3, 5, { integer: true }).ticks, [0, 1, 2, 3]);
  assert.deepEqual(niceTicks(0, 0, 4, { integer: true }).ticks, [0, 1]);
  assert.deepEqual(niceTicks(0, 0, 4), { min: 0, max: 1, step: 0.5, ticks: [0, 0.5, 1] });
  assert.deepEqual(niceTicks(null, undefined, 5).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(10, 0, 2).ticks, [0, 5, 10]);
});

test("niceTicks has no floating-point noise", () => {
  for (const tick of niceTicks(0, 0.7, 7).ticks) assert.equal(tick, Number(tick.toFixed(1)));
  assert.deepEqual(niceTicks(0, 0.3, 3).ticks, [0, 0.1, 0.2, 0.3]);
});

test("linearScale maps and inverts", () => {
  const s = linearScale([0, 100], [200, 0]);
  assert.equal(s(0), 200);
  assert.equal(s(25), 150);
  assert.equal(s(100), 0);
  assert.equal(s.invert(150), 25);
  assert.equal(linearScale([5, 5], [0, 10])(5), 5);
});

test("timeTicks picks a round step aligned to the clock", () => {
  const t0 = Date.UTC(2024, 0, 1, 10, 7);
  const { step, ticks } = timeTicks(t0, t0 + HOUR, 6, 0);
  assert.equal(step, 10 * MINUTE);
  assert.deepEqual(ticks.map((t) => new Date(t).toISOString().slice(11, 16)),
    ["10:10", "10:20", "10:30", "10:40", "10:50", "11:00"]);
});

test("timeTicks aligns hours to the local clock", () => {
  const t0 = Date.UTC(2024, 0, 1, 0, 0);
  // UTC+5:30: local hours fall on the half UTC hour
  const { step, ticks } = timeTicks(t0, t0 + 24 * HOUR, 4, 330);
  assert.equal(step, 6 * HOUR);
  for (const t of ticks) assert.equal(((t + 330 * MINUTE) % (6 * HOUR)), 0);
  assert.ok(ticks.every((t) => t >= t0 && t <= t0 + 24 * HOUR));
});

test("timeTicks uses days for long ranges", () => {
  const t0 = Date.UTC(2024, 0, 1);
  const { step, ticks } = timeTicks(t0, t0 + 30 * DAY, 5, 0);
  assert.equal(step, 7 * DAY);
  assert.deepEqual(ticks.map((t) => new Date(t).toISOString().slice(0, 10)), ["2024-01-04", "2024-01-11", "2024-01-18", "2024-01-25"]);
});

test("stack piles series bottom-up and skips gaps", () => {
  const values = [[1, 2, null], [3, 0, 4], [2, -1, 1]];
  assert.deepEqual(stack(values), [
    [[0, 1], [0, 2], [0, 0]],
    [[1, 4], [2, 2], [0, 4]],
    [[4, 6], [2, 2], [4, 5]],
  ]);
  assert.deepEqual(stackTotals(values), [6, 2, 5]);
  assert.deepEqual(stack([]), []);
});

test("dayRange lists UTC days inclusively, across months and leap days", () => {
  assert.deepEqual(dayRange("2024-02-27", "2024-03-01"), ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]);
  assert.deepEqual(dayRange("2024-03-01", "2024-03-01"), ["2024-03-01"]);
  assert.deepEqual(dayRange("2024-03-02", "2024-03-01"), []);
  assert.equal(dayRange("2024-01-01", "2024-12-31").length, 366);
});

test("daysBefore and isoDay count UTC days", () => {
  assert.equal(daysBefore("2024-03-01", 6), "2024-02-24");
  assert.equal(daysBefore(new Date(Date.UTC(2024, 0, 3, 23, 59)), 2), "2024-01-01");
  assert.equal(isoDay(Date.UTC(2024, 4, 6, 12)), "2024-05-06");
});

test("timeBuckets and fillBuckets fill the window, leaving quiet buckets empty", () => {
  const since = "2024-01-01T10:00:30Z";
  const until = "2024-01-01T10:04:10Z";
  const starts = timeBuckets(since, until, 60);
  assert.deepEqual(starts.map((t) => new Date(t).toISOString().slice(11, 16)), ["10:00", "10:01", "10:02", "10:03", "10:04"]);
  const points = [
    { t: "2024-01-01T10:01:00+00:00", calls: 3, p50_ms: 120 },
    { t: "2024-01-01T10:03:00Z", calls: 1, p50_ms: null },
  ];
  const filled = fillBuckets(points, starts, 60, ["calls", "p50_ms"], { calls: 0 });
  assert.deepEqual(filled.calls, [0, 3, 0, 1, 0]);
  assert.deepEqual(filled.p50_ms, [null, 120, null, null, null]);
});

test("pivot keeps the top splits and sums the rest into other", () => {
  const rows = [
    { key: "2024-01-01", split: "a", calls: 10 },
    { key: "2024-01-01", split: "b", calls: 5 },
    { key: "2024-01-02", split: "c", calls: 2 },
    { key: "2024-01-02", split: "d", calls: 1 },
    { key: "2024-01-03", split: "a", calls: 1 },
  ];
  const labels = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"];
  const out = pivot(rows, { labels, top: 2 });
  assert.deepEqual(out.labels, labels);
  assert.deepEqual(out.series, [
    { name: "a", values: [10, 0, 1, 0] },
    { name: "b", values: [5, 0, 0, 0] },
    { name: "other", values: [0, 3, 0, 0] },
  ]);
});

test("pivot does not make an 'other' of a single split, and names unsplit rows", () => {
  const rows = [{ key: "x", split: "a", calls: 1 }, { key: "y", split: "b", calls: 2 }, { key: "y", split: "c", calls: 3 }];
  assert.deepEqual(pivot(rows, { top: 2 }).series.map((s) => s.name), ["c", "b", "a"]);
  const plain = pivot([{ key: "2024-01-02", calls: 4 }, { key: "2024-01-01", calls: 1 }], { fallback: "calls" });
  assert.deepEqual(plain, { labels: ["2024-01-01", "2024-01-02"], series: [{ name: "calls", values: [1, 4] }] });
  const tokens = pivot([{ key: "k", split: "s", input_tokens: 7 }], { value: "input_tokens" });
  assert.deepEqual(tokens.series[0].values, [7]);
});

test("sumFields adds numbers and ignores gaps", () => {
  assert.deepEqual(sumFields([{ calls: 2, cost_usd: 0.5 }, { calls: 3, cost_usd: null }], ["calls", "cost_usd"]),
    { calls: 5, cost_usd: 0.5 });
  assert.deepEqual(sumFields(undefined, ["calls"]), { calls: 0 });
});

test("labelStep labels every band when they fit, fewer when not", () => {
  assert.equal(labelStep(7, 600, 50), 1);
  assert.equal(labelStep(30, 600, 50), 3);
  assert.equal(labelStep(90, 300, 50), 28);
  assert.ok(Math.ceil(90 / labelStep(90, 600, 50)) * 50 <= 600);
});

test("linePath breaks at gaps and draws lone points", () => {
  assert.equal(linePath([[0, 10], [5, 20], [10, null], [15, 5], [20, 6]]), "M0,10L5,20M15,5L20,6");
  assert.equal(linePath([[0, 1], null, [2, 3], [4, null]]), "M0,1h0M2,3h0");
  assert.equal(linePath([]), "");
  assert.equal(linePath([[1.23456, 2.5]]), "M1.23,2.5h0");
});

test("sparkPath scales into its box and describes the trend", () => {
  const { d, summary } = sparkPath([0, 5, 10], String);
  assert.equal(d, "M1,26L60,14L119,2");
  assert.equal(summary, "From 0 to 10, highest 10.");
  assert.equal(sparkPath([], String).summary, "No data.");
});

test("truncate shortens long labels with an ellipsis", () => {
  assert.equal(truncate("marketing_content_writer", 10), "marketing…");
  assert.equal(truncate("short", 10), "short");
});

test("lone finds points no line reaches", () => {
  const values = [1, null, 2, 3, null, 4];
  assert.deepEqual(values.map((_, j) => lone(values, j)), [true, false, false, false, false, true]);
});
