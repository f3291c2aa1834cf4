// Building elements, formatting figures, and the small widgets every page shares.

const BOOLEAN = new Set(["disabled", "checked", "required", "hidden", "selected", "readonly", "multiple", "open"]);

/** h("button", { class: "btn", onclick: fn, "aria-label": "Close" }, "×") */
export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" && "value" in el) {
      el.value = value;
    } else if (BOOLEAN.has(key)) {
      if (value) el.setAttribute(key, "");
      if (key in el) el[key] = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const integerFormat = new Intl.NumberFormat();
const compactFormat = new Intl.NumberFormat(undefined, { notation: "compact" });
const usdFormat = new Intl.NumberFormat(undefined, {
  style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 4,
});

export const fmt = {
  number: (n) => (n === null || n === undefined ? "–" : Number.isInteger(n) ? integerFormat.format(n) : numberFormat.format(n)),
  compact: (n) => (n === null || n === undefined ? "–" : compactFormat.format(n)),
  ms: (n) => (n === null || n === undefined ? "–" : n >= 1000 ? `${numberFormat.format(n / 1000)} s` : `${numberFormat.format(n)} ms`),
  usd: (n) => (n === null || n === undefined ? "–" : usdFormat.format(n)),
  pct: (x) => (x === null || x === undefined ? "–" : `${numberFormat.format(x * 100)} %`),
  time: (iso) => (iso ? new Date(iso).toLocaleString() : "–"),
  ago(iso) {
    if (!iso) return "–";
    const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (seconds < 5) return "just now";
    if (seconds < 60) return `${seconds} s ago`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
    return `${Math.round(seconds / 86400)} d ago`;
  },
  bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${numberFormat.format(n)} ${units[i]}`;
  },
};

/** An alert box for an ApiError (or any error): its message, and the field it names. */
export function errorBox(err) {
  const field = err?.field ? h("code", {}, err.field) : null;
  return h("div", { class: "alert alert-error", role: "alert" },
    h("strong", {}, err?.status ? `${err.status} ` : "", err?.type ?? "error"), ": ",
    err?.message ?? String(err), field ? [" (", field, ")"] : null);
}

export function spinner(label = "Loading") {
  return h("p", { class: "spinner", role: "status" }, h("span", { class: "spinner-dot", "aria-hidden": "true" }), label, "…");
}

/** Calls fn now and every `ms` until `signal` aborts; a call still running is not overlapped. Returns a
 * promise that resolves once the first call has ended (never rejects). */
export function every(ms, fn, signal) {
  let timer = null;
  const tick = async () => {
    if (signal?.aborted) return;
    try { await fn(); } catch (err) { if (err?.name !== "AbortError") console.error(err); }
    if (!signal?.aborted) timer = setTimeout(tick, ms);
  };
  signal?.addEventListener("abort", () => clearTimeout(timer));
  return tick();
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A relative <time> ("5 min ago") with the full date as its title, or a muted dash. */
export function timeAgo(iso) {
  return iso ? h("time", { datetime: iso, title: fmt.time(iso) }, fmt.ago(iso)) : h("span", { class: "muted" }, "–");
}

/** A snake_case name that may wrap after its underscores. */
export function breakable(name) {
  return String(name).split("_").flatMap((part, i) => (i ? ["_", h("wbr"), part] : [part]));
}

/** A status pill: ok / error / running / succeeded / failed / pending / cancelled / revoked ... */
export function badge(status, label = status) {
  return h("span", { class: `badge badge-${String(status).toLowerCase()}` }, label);
}

/** A box that scrolls sideways on narrow screens; focusable, so that the keyboard can scroll it too. */
export function scrollArea(label, child) {
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label }, child);
}

/** columns: [{ label, value: (row) => node|string, class, numeric }] */
export function table(columns, rows, { caption, empty = "Nothing yet." } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return scrollArea(caption ?? "Table",
    h("table", { class: "table" },
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : c.class }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {},
        columns.map((c) => h("td", { class: c.numeric ? "num" : c.class }, c.value(row))))))));
}

/** A titled section card. */
export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...children);
}

/** A page heading with optional actions on its right. */
export function pageHeader(title, subtitle, ...actions) {
  return h("header", { class: "page-header" },
    h("div", {}, h("h1", { tabindex: "-1" }, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    actions.length ? h("div", { class: "actions" }, ...actions) : null);
}
