// #/agents: the catalogue, searched as you type. The agent summaries are loaded once a session (pages of
// 200, in parallel) and filtered here; q, category and tag live in the hash query.

import { api, onSession } from "../api.js";
import { breakable, clear, errorBox, fmt, h, pageHeader, spinner } from "../dom.js";

const PAGE_SIZE = 200;
const SHOWN = 60;
const TAGS_SHOWN = 14;

let cache = null; // { signal, promise } of the catalogue for this session; signal is null once it loaded
onSession((user) => { if (!user) cache = null; });

// -- pure helpers ---------------------------------------------------------------------------------

/** The lower-case words of a search. */
export function searchWords(q) {
  return String(q ?? "").toLowerCase().split(/\s+/).filter(Boolean);
}

/** Agents prepared for searching: [{ agent, name, tags, text }] with lower-case haystacks. `titles`
 * maps category ids to titles, which are searched too. */
export function indexAgents(agents, titles = new Map()) {
  return agents.map((agent) => {
    const name = agent.name.toLowerCase();
    const tags = (agent.tags ?? []).join(" ").toLowerCase();
    const category = `${agent.category} ${titles.get(agent.category) ?? ""}`.toLowerCase();
    const text = [name, name.replaceAll("_", " "), agent.description.toLowerCase(), tags, category].join("\n");
    return { agent, name, tags, text };
  });
}

function score(entry, words) {
  let total = 0;
  for (const word of words) {
    if (!entry.text.includes(word)) return 0;
    total += entry.name.includes(word) ? 3 : entry.tags.includes(word) ? 2 : 1;
  }
  return total;
}

/** The agents whose name, description, tags or category hold every word of `q` (best matches first,
 * then catalogue order), in `category` and carrying `tag` when given. */
export function filterAgents(index, { q = "", category = "", tag = "" } = {}) {
  const words = searchWords(q);
  const scored = [];
  index.forEach((entry, i) => {
    if (category && entry.agent.category !== category) return;
    if (tag && !(entry.agent.tags ?? []).includes(tag)) return;
    const s = words.length ? score(entry, words) : 1;
    if (s) scored.push([s, i, entry.agent]);
  });
  scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return scored.map(([, , agent]) => agent);
}

/** How many of `agents` each category holds: Map(id -> count). */
export function categoryCounts(agents) {
  const counts = new Map();
  for (const agent of agents) counts.set(agent.category, (counts.get(agent.category) ?? 0) + 1);
  return counts;
}

/** The most common tags of `agents`, most frequent first: [{ tag, count }]. `keep` (the chosen tag)
 * is always included. */
export function topTags(agents, limit = TAGS_SHOWN, keep = "") {
  const counts = new Map();
  for (const agent of agents) for (const tag of agent.tags ?? []) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([tag, count]) => ({ tag, count }));
  const top = sorted.slice(0, limit);
  if (keep && !top.some((t) => t.tag === keep)) top.push({ tag: keep, count: counts.get(keep) ?? 0 });
  return top;
}

/** The search state of a hash query. */
export function readState(query) {
  return {
    q: query?.get("q") ?? "",
    category: query?.get("category") ?? "",
    tag: query?.get("tag") ?? "",
  };
}

/** The hash of a search state: "#/agents?q=seo&category=marketing" (empty parts left out). */
export function hashFor({ q = "", category = "", tag = "" } = {}) {
  const query = new URLSearchParams();
  if (q.trim()) query.set("q", q);
  if (category) query.set("category", category);
  if (tag) query.set("tag", tag);
  const text = query.toString();
  return text ? `#/agents?${text}` : "#/agents";
}

// -- loading ------------------------------------------------------------------------------------------

async function fetchCatalogue(signal) {
  const [categories, first] = await Promise.all([
    api("/v1/categories", { signal }),
    api(`/v1/agents?offset=0&limit=${PAGE_SIZE}`, { signal }),
  ]);
  const offsets = [];
  for (let offset = PAGE_SIZE; offset < first.total; offset += PAGE_SIZE) offsets.push(offset);
  const pages = await Promise.all(offsets.map((offset) => api(`/v1/agents?offset=${offset}&limit=${PAGE_SIZE}`, { signal })));
  const agents = [first, ...pages].flatMap((page) => page.items);
  const titles = new Map(categories.map((c) => [c.id, c.title]));
  return { categories, agents, titles, index: indexAgents(agents, titles) };
}

/** The catalogue (categories, agent summaries and their search index), fetched once a session. A fetch
 * still under way is shared until the page that started it is left; once loaded it no longer depends on
 * that page. */
function loadCatalogue(signal) {
  if (!cache || cache.signal?.aborted) {
    const entry = { signal, promise: fetchCatalogue(signal) };
    entry.promise.then(() => { entry.signal = null; }, () => { if (cache === entry) cache = null; });
    cache = entry;
  }
  return cache.promise;
}

// -- the page -----------------------------------------------------------------------------------------

export async function render(root, { query, signal }) {
  const state = readState(query);
  const search = h("input", {
    id: "agent-search", type: "search", value: state.q, autocomplete: "off", spellcheck: "false",
    placeholder: "e.g. invoice, seo content, churn", "aria-controls": "agent-results",
  });
  const count = h("p", { class: "market-count", role: "status", "aria-live": "polite", "aria-atomic": "true" });
  const body = h("div", { class: "market-body" }, spinner("Loading the catalogue"));
  root.append(
    pageHeader("Agent marketplace", "Find an agent, read its schema and try it."),
    h("div", { class: "market-search field" },
      h("label", { for: "agent-search" }, "Search agents"),
      search,
      h("p", { class: "hint" }, "Every word must appear in the name, description, tags or category.")),
    count,
    body);

  let catalogue;
  try {
    catalogue = await loadCatalogue(signal);
  } catch (err) {
    if (signal.aborted) return;
    clear(body).append(errorBox(err));
    return;
  }
  if (signal.aborted) return;
  state.q = search.value;
  mount(body, count, search, catalogue, state, signal);
}

function mount(body, count, search, catalogue, state, signal) {
  const { categories, index, titles } = catalogue;
  let shown = SHOWN;
  let results = [];

  const facetButtons = new Map();
  const allButton = h("button", { type: "button", class: "facet", onclick: () => choose({ category: "" }) });
  const facetList = h("ul", { class: "facet-list" }, h("li", {}, allButton));
  for (const c of [...categories].sort((a, b) => a.title.localeCompare(b.title))) {
    const button = h("button", {
      type: "button", class: "facet", title: c.description,
      onclick: () => choose({ category: state.category === c.id ? "" : c.id }),
    });
    facetButtons.set(c.id, { button, item: h("li", {}, button), title: c.title });
    facetList.append(facetButtons.get(c.id).item);
  }
  const wide = window.matchMedia("(min-width: 821px)");
  const current = h("span", { class: "facet-current muted" });
  const facets = h("details", { class: "facets card", open: wide.matches },
    h("summary", {}, "Categories", current),
    h("nav", { "aria-label": "Categories" }, facetList));

  const tagBox = h("div", { class: "market-tags" });
  const cards = h("ul", { class: "agent-cards", id: "agent-results", "aria-label": "Agents" });
  const more = h("div", { class: "market-more" });

  // Folded on a narrow screen, open on a wide one, as the window changes too.
  wide.addEventListener("change", (event) => { facets.open = event.matches; }, { signal });
  clear(body).append(facets, h("section", { class: "market-results", "aria-label": "Results" }, tagBox, cards, more));

  function choose(change) {
    Object.assign(state, change);
    shown = SHOWN;
    update();
  }

  function update() {
    history.replaceState(history.state, "", hashFor(state));
    // Scored once; the lists below keep its order (best matches first, then catalogue order).
    const matched = filterAgents(index, { q: state.q });
    const inCategory = (agent) => !state.category || agent.category === state.category;
    const withTag = (agent) => !state.tag || (agent.tags ?? []).includes(state.tag);
    results = matched.filter((agent) => inCategory(agent) && withTag(agent));
    renderFacets(matched.filter(withTag));
    renderTags(matched.filter(inCategory));
    renderCount();
    renderCards(0);
  }

  function renderFacets(base) {
    const counts = categoryCounts(base);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    setFacet(allButton, "All categories", total);
    allButton.setAttribute("aria-pressed", String(!state.category));
    for (const [id, { button, item, title }] of facetButtons) {
      const n = counts.get(id) ?? 0;
      setFacet(button, title, n);
      button.setAttribute("aria-pressed", String(state.category === id));
      item.hidden = n === 0 && state.category !== id;
    }
    current.textContent = state.category
      ? `: ${titles.get(state.category) ?? state.category}` : "";
  }

  function renderTags(base) {
    const tags = topTags(base, TAGS_SHOWN, state.tag);
    const focused = document.activeElement?.dataset?.tag;
    clear(tagBox);
    if (!tags.length) return;
    tagBox.append(
      h("h2", { class: "market-tags-title", id: "market-tags-title" }, "Popular tags"),
      h("ul", { class: "chips", "aria-labelledby": "market-tags-title" }, tags.map(({ tag, count: n }) => h("li", {},
        h("button", {
          type: "button", class: "chip", "aria-pressed": String(state.tag === tag), dataset: { tag },
          onclick: () => choose({ tag: state.tag === tag ? "" : tag }),
        }, tag, h("span", { class: "chip-count" }, ` ${n}`))))));
    if (focused) tagBox.querySelector(`[data-tag="${CSS.escape(focused)}"]`)?.focus();
  }

  function renderCount() {
    const filters = [
      state.q.trim() && `matching “${state.q.trim()}”`,
      state.category && `in ${titles.get(state.category) ?? state.category}`,
      state.tag && `tagged ${state.tag}`,
    ].filter(Boolean);
    const what = `${fmt.number(results.length)} ${results.length === 1 ? "agent" : "agents"}`;
    count.textContent = filters.length ? `${what} ${filters.join(", ")}` : `${what} in ${categories.length} categories`;
  }

  function renderCards(from) {
    if (from === 0) clear(cards);
    const slice = results.slice(from, shown);
    cards.append(...slice.map((agent) => agentCard(agent, titles)));
    clear(more);
    if (!results.length) {
      cards.append(h("li", { class: "empty" }, `No agents match. `,
        h("button", { type: "button", class: "btn-link", onclick: () => { search.value = ""; choose({ q: "", category: "", tag: "" }); search.focus(); } },
          "Clear the search and filters")));
    }
    if (results.length > shown) {
      more.append(
        h("p", { class: "muted" }, `Showing ${fmt.number(shown)} of ${fmt.number(results.length)}.`),
        h("button", { type: "button", class: "btn", onclick: showMore }, "Show more"));
    }
  }

  function showMore() {
    const from = shown;
    shown += SHOWN;
    renderCards(from);
    cards.children[from]?.querySelector("a")?.focus();
  }

  search.addEventListener("input", () => choose({ q: search.value }));
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") event.preventDefault();
  });
  if (!titles.has(state.category)) state.category = "";
  update();
}

function setFacet(button, title, n) {
  if (button.dataset.count === String(n)) return;
  button.dataset.count = String(n);
  // Named by what it shows: "Accounting 52 agents".
  button.replaceChildren(title, " ", h("span", { class: "facet-count" }, fmt.number(n)),
    h("span", { class: "visually-hidden" }, n === 1 ? " agent" : " agents"));
}

function agentCard(agent, titles) {
  return h("li", { class: "agent-card" },
    h("h3", {}, h("a", { href: `#/agents/${encodeURIComponent(agent.name)}` }, breakable(agent.name))),
    h("p", { class: "agent-card-category" }, titles.get(agent.category) ?? agent.category,
      h("span", { class: "muted" }, ` · v${agent.version}`)),
    h("p", { class: "agent-card-description" }, agent.description),
    agent.tags?.length
      ? h("ul", { class: "tag-list", "aria-label": "Tags" }, agent.tags.map((t) => h("li", {}, t)))
      : null);
}
