// SVG charts drawn by hand: a line chart over time, stacked bars, ranked horizontal bars and a
// sparkline. The arithmetic (scales, ticks, stacking, date buckets) is in pure functions below; the
// drawing functions build elements with h() and redraw when their container changes width.

import { fmt, h, table } from "./dom.js";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
const TIME_STEPS = [
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY,
];
const PALETTE = 8;
const CHAR_WIDTH = 6.8; // px of a 12 px label character, for layout estimates
const DEFAULT_WIDTH = 640;

// -- pure functions ----------------------------------------------------------------------------

/** Whether v is a finite number (null, undefined and NaN are gaps). */
function isNum(v) {
  return typeof v === "number" && Number.isFinite(v);
}

/** The round step (1, 2 or 5 times a power of ten) at or above `raw`. */
export function niceStep(raw) {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  const nice = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10;
  return nice * power;
}

/** Round axis ticks covering [min, max] in about `count` steps: { min, max, step, ticks }.
 * `integer` keeps the step a whole number (for counts). */
export function niceTicks(min, max, count = 5, { integer = false } = {}) {
  let lo = isNum(min) ? min : 0;
  let hi = isNum(max) ? max : lo;
  if (lo > hi) [lo, hi] = [hi, lo];
  if (lo === hi) hi = lo + (lo === 0 ? 1 : Math.abs(lo));
  let step = niceStep((hi - lo) / Math.max(1, count));
  if (integer) step = Math.max(1, Math.round(step));
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  const round = (v) => Number(v.toFixed(decimals));
  const first = round(Math.floor(lo / step + 1e-9) * step);
  const last = round(Math.ceil(hi / step - 1e-9) * step);
  const ticks = [];
  for (let i = 0; ; i += 1) {
    const v = round(first + i * step);
    if (v > last + step / 2) break;
    ticks.push(v);
  }
  return { min: first, max: last, step, ticks };
}

/** A function mapping [d0, d1] onto [r0, r1] linearly, with `.invert`. A zero-width domain maps to
 * the middle of the range. */
export function linearScale([d0, d1], [r0, r1]) {
  const span = d1 - d0;
  const scale = (v) => (span === 0 ? (r0 + r1) / 2 : r0 + ((v - d0) / span) * (r1 - r0));
  scale.invert = (r) => (r1 === r0 ? d0 : d0 + ((r - r0) / (r1 - r0)) * span);
  return scale;
}

/** Time ticks (ms) inside [t0, t1], about `count` of them, on round steps (1 min ... 4 weeks) aligned
 * to the local clock given as minutes east of UTC: { step, ticks }. */
export function timeTicks(t0, t1, count = 6, offsetMinutes = 0) {
  const raw = (t1 - t0) / Math.max(1, count);
  const step = TIME_STEPS.find((s) => s >= raw) ?? Math.ceil(raw / (28 * DAY)) * 28 * DAY;
  const offset = offsetMinutes * MINUTE;
  const ticks = [];
  for (let t = Math.ceil((t0 + offset) / step) * step - offset; t <= t1; t += step) ticks.push(t);
  return { step, ticks };
}

/** Stacks series (arrays of equal length) bottom-up: result[i][j] = [y0, y1] of series i at x j.
 * Gaps and negative values count as zero. */
export function stack(seriesValues) {
  const base = new Array(seriesValues[0]?.length ?? 0).fill(0);
  return seriesValues.map((values) => values.map((v, j) => {
    const y0 = base[j];
    base[j] = y0 + (isNum(v) && v > 0 ? v : 0);
    return [y0, base[j]];
  }));
}

/** The totals of stacked series at each x. */
export function stackTotals(seriesValues) {
  const totals = new Array(seriesValues[0]?.length ?? 0).fill(0);
  for (const values of seriesValues) values.forEach((v, j) => { if (isNum(v) && v > 0) totals[j] += v; });
  return totals;
}

/** Every day from `since` to `until` (inclusive) as "YYYY-MM-DD" (UTC calendar days). */
export function dayRange(since, until) {
  const start = Date.parse(`${String(since).slice(0, 10)}T00:00:00Z`);
  const end = Date.parse(`${String(until).slice(0, 10)}T00:00:00Z`);
  const days = [];
  if (!isNum(start) || !isNum(end)) return days;
  for (let t = start; t <= end && days.length <= 1000; t += DAY) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/** The UTC day `n` days before the day of `date`, as "YYYY-MM-DD". */
export function daysBefore(date, n) {
  const t = Date.parse(`${isoDay(date)}T00:00:00Z`);
  return new Date(t - n * DAY).toISOString().slice(0, 10);
}

/** The UTC calendar day of a Date, ms or ISO string, as "YYYY-MM-DD". */
export function isoDay(date) {
  if (typeof date === "string" && /^\d{4}-\d{2}-\d{2}$/.test(date)) return date;
  return new Date(date).toISOString().slice(0, 10);
}

/** The start (ms) of every `seconds`-long bucket from the one holding `since` to the one holding
 * `until`, the buckets aligned on multiples of `seconds` since the epoch. */
export function timeBuckets(since, until, seconds) {
  const size = Math.max(1, seconds) * 1000;
  const from = Math.floor(toMs(since) / size) * size;
  const to = Math.floor(toMs(until) / size) * size;
  const starts = [];
  for (let t = from; t <= to && starts.length <= 5000; t += size) starts.push(t);
  return starts;
}

/** Values of `fields` for each bucket start, from points `{ t, ...fields }` (buckets left out of the
 * points get `empty[field]`, null by default): { field: [values...] }. */
export function fillBuckets(points, starts, seconds, fields, empty = {}) {
  const size = Math.max(1, seconds) * 1000;
  const byStart = new Map();
  for (const p of points ?? []) byStart.set(Math.floor(toMs(p.t) / size) * size, p);
  const out = {};
  for (const field of fields) {
    out[field] = starts.map((t) => {
      const v = byStart.get(t)?.[field];
      return isNum(v) ? v : (empty[field] ?? null);
    });
  }
  return out;
}

/** Rows `{ key, split, [value] }` as stacked series over `labels` (the keys, sorted unique keys by
 * default): the `top` splits with the largest totals, the rest summed into `other`. Rows without a
 * split go to a series named `fallback`. Returns { labels, series: [{ name, values }] }. */
export function pivot(rows, options = {}) {
  const { key = "key", split = "split", value = "calls", labels, top = 7, other = "other", fallback = "all" } = options;
  const xs = labels ?? [...new Set(rows.map((r) => String(r[key])))].sort();
  const index = new Map(xs.map((x, j) => [x, j]));
  const totals = new Map();
  for (const r of rows) {
    const name = String(r[split] ?? fallback);
    totals.set(name, (totals.get(name) ?? 0) + (isNum(r[value]) ? r[value] : 0));
  }
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([n]) => n);
  const kept = ranked.length <= top + 1 ? ranked : ranked.slice(0, top);
  const keptSet = new Set(kept);
  const names = ranked.length > kept.length ? [...kept, other] : kept;
  const series = names.map((name) => ({ name, values: new Array(xs.length).fill(0) }));
  const seriesOf = new Map(names.map((n, i) => [n, series[i]]));
  for (const r of rows) {
    const j = index.get(String(r[key]));
    if (j === undefined || !isNum(r[value])) continue;
    const name = String(r[split] ?? fallback);
    seriesOf.get(keptSet.has(name) ? name : other).values[j] += r[value];
  }
  return { labels: xs, series };
}

/** Sums `fields` over rows: { field: total }. */
export function sumFields(rows, fields) {
  const out = Object.fromEntries(fields.map((f) => [f, 0]));
  for (const r of rows ?? []) for (const f of fields) if (isNum(r[f])) out[f] += r[f];
  return out;
}

/** Every how many of `n` equal bands to label so that labels `labelWidth` wide fit in `width`. */
export function labelStep(n, width, labelWidth) {
  const fits = (k) => Math.ceil(n / k) * labelWidth <= width;
  for (const k of [1, 2, 3, 5, 7, 14, 28, 56]) if (fits(k)) return k;
  return Math.max(1, Math.ceil((n * labelWidth) / Math.max(1, width)));
}

/** An SVG path through points [x, y]; a null y (or point) breaks the line, and a point alone is a
 * zero-length segment (drawn as a dot with round caps). */
export function linePath(points) {
  let d = "";
  let run = [];
  const flush = () => {
    if (run.length === 1) d += `M${run[0][0]},${run[0][1]}h0`;
    else if (run.length > 1) d += run.map(([x, y], i) => `${i ? "L" : "M"}${x},${y}`).join("");
    run = [];
  };
  for (const p of points) {
    if (!p || !isNum(p[0]) || !isNum(p[1])) flush();
    else run.push([round2(p[0]), round2(p[1])]);
  }
  flush();
  return d;
}

/** A short date for a "YYYY-MM-DD" day ("Mar 4"). */
export function dayLabel(day) {
  const t = Date.parse(`${String(day).slice(0, 10)}T00:00:00Z`);
  if (!isNum(t)) return String(day);
  return new Date(t).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}

/** A label for a time tick: the date for day steps or at local midnight, else the clock time. */
function timeLabel(t, step) {
  const d = new Date(t);
  if (step >= DAY || (d.getHours() === 0 && d.getMinutes() === 0)) {
    return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  }
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** A date and time for tooltips and tables. */
function timeTitle(t) {
  return new Date(t).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** The estimated width (px) of a label of 12 px text. */
function textWidth(text) {
  return String(text).length * CHAR_WIDTH;
}

/** `text` shortened with an ellipsis to at most `max` characters. */
export function truncate(text, max) {
  const s = String(text);
  return s.length <= max ? s : `${s.slice(0, Math.max(1, max - 1))}…`;
}

function toMs(t) {
  return typeof t === "number" ? t : new Date(t).getTime();
}

function round2(v) {
  return Math.round(v * 100) / 100;
}

const seriesClass = (i) => `s${(i % PALETTE) + 1}`;

// -- the frame every chart shares ----------------------------------------------------------------

let counter = 0;
const uid = (prefix) => `${prefix}-${(counter += 1)}`;

/**
 * The element of a chart: the SVG (role="img", titled and described), a legend, a tooltip shown on
 * hover and on keyboard focus of its marks (arrow keys move between them), a live region announcing
 * the focused mark, and a "Show as table" <details>. `build(opts, width)` returns
 * { height, nodes, marks: [{ el, label, heading, lines, x, y, href }], legend, table, summary }.
 */
function chartFrame(kind, initial, build) {
  let opts = { ...initial };
  let width = DEFAULT_WIDTH;
  let marks = [];
  let active = 0;
  let hovered = -1;
  const titleId = uid("chart-title");
  const descId = uid("chart-desc");
  const tip = h("div", { class: "chart-tooltip", "aria-hidden": "true", hidden: true });
  const plot = h("div", { class: "chart-plot" });
  const legend = h("div", { class: "chart-legend-slot" });
  const announcer = h("p", { class: "visually-hidden", "aria-live": "polite" });
  const tableSlot = h("div", { class: "chart-table-slot" });
  const details = h("details", { class: "chart-table" }, h("summary", {}, "Show as table"), tableSlot);
  const figure = h("figure", { class: `chart chart-${kind}` }, plot, legend, announcer, details);

  function show(i, announce) {
    const mark = marks[i];
    if (!mark) return;
    marks.forEach((m, k) => m.el.classList.toggle("is-active", k === i));
    tip.replaceChildren(
      h("strong", {}, mark.heading),
      mark.lines.length ? h("ul", {}, mark.lines.map(([name, value, cls]) =>
        h("li", {}, cls ? h("span", { class: `chart-key ${cls}` }) : null, name ? `${name}: ` : "", h("b", {}, value)))) : null);
    tip.hidden = false;
    const box = plot.getBoundingClientRect();
    const ratio = box.width / width || 1;
    const px = mark.x * ratio;
    const py = mark.y * ratio;
    const tw = tip.offsetWidth;
    const th = tip.offsetHeight;
    tip.style.left = `${Math.max(0, Math.min(box.width - tw, px - tw / 2))}px`;
    tip.style.top = `${py - th - 10 >= 0 ? py - th - 10 : py + 14}px`;
    if (announce && announcer.textContent !== mark.label) announcer.textContent = mark.label;
  }

  function hide() {
    tip.hidden = true;
    marks.forEach((m) => m.el.classList.remove("is-active"));
  }

  function focusMark(i) {
    active = Math.max(0, Math.min(marks.length - 1, i));
    marks.forEach((m, k) => m.el.setAttribute("tabindex", k === active ? "0" : "-1"));
    marks[active]?.el.focus();
  }

  function onKey(event) {
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (event.key in moves) focusMark(active + moves[event.key]);
    else if (event.key === "Home") focusMark(0);
    else if (event.key === "End") focusMark(marks.length - 1);
    else if (event.key === "Escape") hide();
    else if ((event.key === "Enter" || event.key === " ") && marks[active]?.href) location.hash = marks[active].href;
    else return;
    event.preventDefault();
  }

  function render() {
    const focused = marks.findIndex((m) => m.el === document.activeElement);
    const built = build(opts, width);
    marks = built.marks;
    active = Math.min(focused >= 0 ? focused : active, Math.max(0, marks.length - 1));
    marks.forEach((mark, i) => {
      const { el } = mark;
      el.setAttribute("tabindex", i === active ? "0" : "-1");
      el.setAttribute("role", "img");
      el.setAttribute("aria-label", mark.label);
      el.classList.add("chart-mark");
      el.addEventListener("focus", () => { active = i; show(i, true); });
      el.addEventListener("blur", hide);
      el.addEventListener("mouseenter", () => { hovered = i; show(i, false); });
      el.addEventListener("mouseleave", () => { hovered = -1; if (document.activeElement !== el) hide(); });
      if (mark.href) el.addEventListener("click", () => { location.hash = mark.href; });
    });
    const desc = [opts.desc, built.summary].filter(Boolean).join(" ");
    const svg = h("svg:svg", {
      class: "chart-svg", viewBox: `0 0 ${width} ${built.height}`, width: "100%",
      role: "group", "aria-labelledby": `${titleId} ${descId}`, onkeydown: onKey,
    }, h("svg:title", { id: titleId }, opts.title ?? ""), h("svg:desc", { id: descId }, desc), built.nodes);
    plot.replaceChildren(svg, tip);
    tip.hidden = true;
    legend.replaceChildren(built.legend ?? "");
    const scrolled = tableSlot.querySelector(".table-wrap")?.scrollTop ?? 0;
    tableSlot.replaceChildren(built.table ?? "");
    const wrap = tableSlot.querySelector(".table-wrap");
    if (wrap && scrolled) wrap.scrollTop = scrolled;
    if (focused >= 0 && marks[active]) marks[active].el.focus({ preventScroll: true });
    else if (marks[hovered]) show(hovered, false);
  }

  if (typeof ResizeObserver !== "undefined") {
    new ResizeObserver((entries) => {
      const w = Math.round(entries[0].contentRect.width);
      if (w > 0 && w !== width) {
        width = w;
        render();
      }
    }).observe(plot);
  }
  render();
  /** Redraws the chart with new options (data) merged into the old ones. */
  figure.update = (next) => {
    opts = { ...opts, ...next };
    render();
  };
  return figure;
}

function legendList(series, variant, always = false) {
  if (series.length < (always ? 1 : 2)) return null;
  return h("ul", { class: "chart-legend" }, series.map((s, i) =>
    h("li", {}, h("span", { class: `chart-key ${variant} ${seriesClass(i)}`, "aria-hidden": "true" }), s.name)));
}

function yAxis(ticks, scale, format, left, right) {
  return ticks.map((v) => h("svg:g", { class: "chart-tick" },
    h("svg:line", { class: v === 0 ? "chart-axis" : "chart-grid", x1: left, x2: right, y1: round2(scale(v)), y2: round2(scale(v)) }),
    h("svg:text", { x: left - 6, y: round2(scale(v)), dy: "0.32em", "text-anchor": "end" }, format(v))));
}

function yTickLabels(opts, ticks) {
  const format = opts.tickFormat ?? ((v) => fmt.compact(v));
  return { format, width: Math.max(...ticks.map((v) => textWidth(format(v)))) };
}

function valueOf(format, v) {
  return isNum(v) ? format(v) : "–";
}

// -- line chart -----------------------------------------------------------------------------------

/**
 * A line chart over time. opts: { title, desc, x: [ms or ISO times], series: [{ name, values }],
 * format (values in tooltips and the table), tickFormat (the y axis), integer (whole-number ticks),
 * height (px, 220), legend (true: a legend even for one series) }. Series after the first are
 * dashed and their points have other shapes, so that colour is not the only way to tell them apart.
 * Returns a <figure> with `.update(opts)`.
 */
export function lineChart(opts) {
  return chartFrame("line", opts, buildLine);
}

function buildLine(o, width) {
  const height = o.height ?? 220;
  const format = o.format ?? fmt.number;
  const xs = (o.x ?? []).map(toMs);
  const series = o.series ?? [];
  const values = series.flatMap((s) => s.values).filter(isNum);
  const y = niceTicks(0, Math.max(0, ...values), height >= 180 ? 4 : 3, { integer: o.integer });
  const ticks = yTickLabels(o, y.ticks);
  const m = { top: 12, right: 14, bottom: 26, left: Math.ceil(ticks.width) + 12 };
  const right = width - m.right;
  const bottom = height - m.bottom;
  const t0 = xs[0] ?? 0;
  const t1 = xs.length > 1 ? xs[xs.length - 1] : t0 + 1;
  const sx = linearScale([t0, t1], [m.left, right]);
  const sy = linearScale([y.min, y.max], [bottom, m.top]);
  const nodes = [h("svg:g", { class: "chart-axes" }, yAxis(y.ticks, sy, ticks.format, m.left, right))];

  const offset = xs.length ? -new Date(t0).getTimezoneOffset() : 0;
  const time = timeTicks(t0, t1, Math.max(2, Math.floor((right - m.left) / 90)), offset);
  nodes.push(h("svg:g", { class: "chart-xaxis" }, time.ticks.map((t) => h("svg:g", { class: "chart-tick" },
    h("svg:line", { class: "chart-axis", x1: round2(sx(t)), x2: round2(sx(t)), y1: bottom, y2: bottom + 4 }),
    h("svg:text", { x: round2(sx(t)), y: bottom + 17, "text-anchor": "middle" }, timeLabel(t, time.step))))));

  series.forEach((s, i) => {
    nodes.push(h("svg:path", {
      class: `chart-line ${seriesClass(i)}${i ? " chart-line-dashed" : ""}`,
      d: linePath(xs.map((t, j) => [sx(t), isNum(s.values[j]) ? sy(s.values[j]) : null])),
    }));
  });

  const marks = xs.map((t, j) => {
    const cx = sx(t);
    const x0 = j ? (sx(xs[j - 1]) + cx) / 2 : m.left;
    const x1 = j < xs.length - 1 ? (sx(xs[j + 1]) + cx) / 2 : right;
    const heading = o.xFormat ? o.xFormat(t) : timeTitle(t);
    const lines = series.map((s, i) => [s.name, valueOf(format, s.values[j]), seriesClass(i)]);
    const tops = series.map((s) => s.values[j]).filter(isNum);
    const el = h("svg:g", { class: "chart-col" },
      h("svg:rect", { class: "chart-hit", x: round2(x0), y: m.top, width: Math.max(1, round2(x1 - x0)), height: bottom - m.top }),
      h("svg:line", { class: "chart-guide", x1: round2(cx), x2: round2(cx), y1: m.top, y2: bottom }),
      series.map((s, i) => (isNum(s.values[j]) ? pointShape(i, cx, sy(s.values[j]), lone(s.values, j)) : null)));
    return {
      el, heading, lines, x: cx, y: tops.length ? sy(Math.max(...tops)) : bottom,
      label: `${heading}: ${lines.map(([n, v]) => `${n} ${v}`).join(", ")}`,
    };
  });
  nodes.push(h("svg:g", { class: "chart-cols" }, marks.map((mk) => mk.el)));

  const summary = series.map((s) => {
    const vs = s.values.filter(isNum);
    if (!vs.length) return `${s.name}: no data.`;
    return `${s.name}: highest ${format(Math.max(...vs))}, latest ${valueOf(format, s.values[s.values.length - 1])}.`;
  }).join(" ");
  const rows = xs.map((t, j) => ({ t, j }));
  return {
    height, nodes, marks, summary,
    legend: legendList(series, "chart-key-line", o.legend),
    table: table([
      { label: o.xLabel ?? "Time", value: (r) => (o.xFormat ? o.xFormat(r.t) : timeTitle(r.t)) },
      ...series.map((s) => ({ label: s.name, numeric: true, value: (r) => valueOf(format, s.values[r.j]) })),
    ], rows, { caption: o.title, empty: "No data." }),
  };
}

/** Whether the value at j has no value on either side (so no line reaches it). */
export function lone(values, j) {
  return isNum(values[j]) && !isNum(values[j - 1]) && !isNum(values[j + 1]);
}

function pointShape(i, x, y, alone) {
  const cls = `chart-dot ${seriesClass(i)}${alone ? " chart-dot-lone" : ""}`;
  if (i % 3 === 1) return h("svg:rect", { class: cls, x: round2(x - 3.5), y: round2(y - 3.5), width: 7, height: 7 });
  if (i % 3 === 2) return h("svg:path", { class: cls, d: `M${round2(x)},${round2(y - 4.5)}l4.5,4.5l-4.5,4.5l-4.5,-4.5z` });
  return h("svg:circle", { class: cls, cx: round2(x), cy: round2(y), r: 4 });
}

// -- stacked bars ---------------------------------------------------------------------------------

/**
 * Stacked vertical bars, one per label (days as "YYYY-MM-DD", or any text), one colour per series
 * (--c1 ... --c8) with a legend. opts: { title, desc, labels, series: [{ name, values }], format,
 * tickFormat, integer, height (220), labelFormat (the x axis; short dates by default), xLabel, legend
 * (true: a legend even for one series) }.
 * Returns a <figure> with `.update(opts)`.
 */
export function stackedBars(opts) {
  return chartFrame("bars", opts, buildStacked);
}

function buildStacked(o, width) {
  const height = o.height ?? 220;
  const format = o.format ?? fmt.number;
  const labels = o.labels ?? [];
  const series = o.series ?? [];
  const labelText = o.labelFormat ?? ((l) => (/^\d{4}-\d{2}-\d{2}$/.test(l) ? dayLabel(l) : String(l)));
  const stacked = stack(series.map((s) => s.values));
  const totals = stackTotals(series.map((s) => s.values));
  const y = niceTicks(0, Math.max(0, ...totals), height >= 180 ? 4 : 3, { integer: o.integer });
  const ticks = yTickLabels(o, y.ticks);
  const m = { top: 12, right: 10, bottom: 26, left: Math.ceil(ticks.width) + 12 };
  const right = width - m.right;
  const bottom = height - m.bottom;
  const band = (right - m.left) / Math.max(1, labels.length);
  const barWidth = band > 6 ? band * 0.72 : Math.max(1, band - 1);
  const sy = linearScale([y.min, y.max], [bottom, m.top]);
  const nodes = [h("svg:g", { class: "chart-axes" }, yAxis(y.ticks, sy, ticks.format, m.left, right))];
  const longest = Math.max(0, ...labels.map((l) => textWidth(labelText(l))));
  const every = labelStep(labels.length, right - m.left, longest + 10);
  const multi = series.length > 1;

  const marks = labels.map((day, j) => {
    const x = m.left + j * band;
    const heading = labelText(day);
    const lines = series.map((s, i) => [s.name, valueOf(format, s.values[j]), seriesClass(i)])
      .filter((line, i) => !multi || (isNum(series[i].values[j]) && series[i].values[j] > 0));
    if (multi) lines.push(["Total", format(totals[j]), null]);
    const el = h("svg:g", { class: "chart-col" },
      h("svg:rect", { class: "chart-hit", x: round2(x), y: m.top, width: Math.max(1, round2(band)), height: bottom - m.top }),
      series.map((s, i) => {
        const [y0, y1] = stacked[i][j];
        if (y1 <= y0) return null;
        return h("svg:rect", {
          class: `chart-bar ${seriesClass(i)}`, x: round2(x + (band - barWidth) / 2), y: round2(sy(y1)),
          width: round2(barWidth), height: Math.max(0.5, round2(sy(y0) - sy(y1))),
        });
      }));
    const label = `${heading}: ${lines.map(([n, v]) => `${n} ${v}`).join(", ")}`;
    return { el, heading, lines, x: x + band / 2, y: sy(totals[j]), label };
  });
  nodes.push(h("svg:g", { class: "chart-cols" }, marks.map((mk) => mk.el)));
  nodes.push(h("svg:g", { class: "chart-xaxis" }, labels.map((label, j) => (j % every ? null
    : h("svg:text", { x: round2(m.left + (j + 0.5) * band), y: bottom + 17, "text-anchor": "middle" }, labelText(label))))));

  const peak = totals.reduce((best, v, j) => (v > totals[best] ? j : best), 0);
  const sum = totals.reduce((a, b) => a + b, 0);
  const summary = labels.length
    ? `Total ${format(sum)}; highest ${format(totals[peak])} on ${labelText(labels[peak])}.`
    : "No data.";
  const rows = labels.map((label, j) => ({ label, j }));
  return {
    height, nodes, marks, summary,
    legend: legendList(series, "chart-key-box", o.legend),
    table: table([
      { label: o.xLabel ?? "Day", value: (r) => labelText(r.label) },
      ...series.map((s) => ({ label: s.name, numeric: true, value: (r) => valueOf(format, s.values[r.j]) })),
      ...(multi ? [{ label: "Total", numeric: true, value: (r) => format(totals[r.j]) }] : []),
    ], rows, { caption: o.title, empty: "No data." }),
  };
}

// -- horizontal bars ------------------------------------------------------------------------------

/**
 * Ranked horizontal bars, largest first, each with its label above and its value at its end.
 * opts: { title, desc, items: [{ label, value, href, note }], format, tickFormat, integer, name
 * (what the value is, for the table) }. A bar with `href` opens it on click, Enter or Space.
 * Returns a <figure> with `.update(opts)`.
 */
export function horizontalBars(opts) {
  return chartFrame("hbars", opts, buildHorizontal);
}

function buildHorizontal(o, width) {
  const format = o.format ?? fmt.number;
  const tickFormat = o.tickFormat ?? ((v) => fmt.compact(v));
  const items = [...(o.items ?? [])].sort((a, b) => (b.value ?? 0) - (a.value ?? 0));
  const row = 40;
  const m = { top: 6, right: 8, bottom: 24, left: 4 };
  const height = m.top + items.length * row + m.bottom;
  const valueWidth = Math.max(0, ...items.map((it) => textWidth(valueOf(format, it.value)))) + 10;
  const right = width - m.right - valueWidth;
  const bottom = height - m.bottom;
  const largest = Math.max(0, ...items.map((it) => (isNum(it.value) ? it.value : 0)));
  const x = niceTicks(0, largest, Math.max(2, Math.floor((right - m.left) / 80)), { integer: o.integer });
  const sx = linearScale([0, x.max], [m.left, right]);
  const nodes = [h("svg:g", { class: "chart-axes" }, x.ticks.map((v) => h("svg:g", { class: "chart-tick" },
    h("svg:line", { class: v === 0 ? "chart-axis" : "chart-grid", x1: round2(sx(v)), x2: round2(sx(v)), y1: m.top, y2: bottom }),
    h("svg:text", { x: round2(sx(v)), y: bottom + 16, "text-anchor": "middle" }, tickFormat(v)))))];
  const maxChars = Math.max(8, Math.floor((width - m.left - m.right) / CHAR_WIDTH));

  const marks = items.map((it, i) => {
    const top = m.top + i * row;
    const v = isNum(it.value) ? it.value : 0;
    const end = sx(v);
    const value = valueOf(format, it.value);
    const el = h("svg:g", { class: `chart-col${it.href ? " chart-link" : ""}` },
      h("svg:rect", { class: "chart-hit", x: 0, y: top, width, height: row }),
      h("svg:text", { class: "chart-label", x: m.left, y: top + 14 }, truncate(it.label, maxChars)),
      h("svg:rect", {
        class: `chart-bar ${seriesClass(it.series ?? 0)}`, x: m.left, y: top + 20, width: Math.max(1, round2(end - m.left)), height: 14,
      }),
      h("svg:text", { class: "chart-value", x: round2(end + 6), y: top + 31 }, value));
    const lines = [[o.name ?? "", value, null]];
    if (it.note) lines.push(["", it.note, null]);
    const label = `${it.label}: ${o.name ? `${o.name} ` : ""}${value}${it.note ? `, ${it.note}` : ""}`;
    return { el, heading: it.label, lines, x: Math.min(end, right), y: top + 20, href: it.href, label };
  });
  nodes.push(h("svg:g", { class: "chart-cols" }, marks.map((mk) => mk.el)));
  const summary = items.length ? `Highest: ${items[0].label}, ${valueOf(format, items[0].value)}.` : "No data.";
  return {
    height, nodes, marks, summary, legend: null,
    table: table([
      { label: o.labelName ?? "Name", value: (it) => (it.href ? h("a", { href: it.href }, it.label) : it.label) },
      { label: o.name ?? "Value", numeric: true, value: (it) => valueOf(format, it.value) },
    ], items, { caption: o.title, empty: "No data." }),
  };
}

// -- sparkline ------------------------------------------------------------------------------------

/**
 * A small trend line without axes for a figure's card: an SVG (role="img") whose title and
 * description say the first, highest and latest values. values: numbers (null for gaps);
 * opts: { title, format }. Returns the <svg> with `.update(values)`.
 */
export function sparkline(values, { title = "Trend", format = fmt.number } = {}) {
  const titleId = uid("spark-title");
  const descId = uid("spark-desc");
  const svg = h("svg:svg", {
    class: "sparkline", viewBox: "0 0 120 28", width: "100%", preserveAspectRatio: "none",
    role: "img", "aria-labelledby": `${titleId} ${descId}`,
  });
  svg.update = (next) => {
    const { d, summary } = sparkPath(next, format);
    svg.replaceChildren(h("svg:title", { id: titleId }, title), h("svg:desc", { id: descId }, summary),
      h("svg:path", { class: "sparkline-line", d }));
  };
  svg.update(values);
  return svg;
}

/** The path (in a 120 x 28 box) and the text equivalent of a sparkline. */
export function sparkPath(values, format = String) {
  const vs = (values ?? []).filter(isNum);
  const top = Math.max(1, ...vs);
  const sx = linearScale([0, Math.max(1, (values?.length ?? 1) - 1)], [1, 119]);
  const sy = linearScale([0, top], [26, 2]);
  const d = linePath((values ?? []).map((v, j) => [sx(j), isNum(v) ? sy(v) : null]));
  const summary = vs.length
    ? `From ${format(vs[0])} to ${format(vs[vs.length - 1])}, highest ${format(Math.max(...vs))}.`
    : "No data.";
  return { d, summary };
}
