// The shell: the hash router, the navigation, and the session's start and end.

import { can, onSession, refresh, session, signOut } from "./api.js";
import { clear, errorBox, h, spinner } from "./dom.js";

const ROUTES = [
  { pattern: /^signin$/, page: "signin", title: "Sign in", open: true },
  { pattern: /^agents$/, page: "marketplace", title: "Marketplace", nav: "agents" },
  { pattern: /^agents\/([^/]+)$/, page: "agent", title: "Agent", keys: ["name"], nav: "agents" },
  { pattern: /^dashboard$/, page: "dashboard", title: "Dashboard", nav: "dashboard" },
  { pattern: /^analytics$/, page: "analytics", title: "Analytics", nav: "analytics" },
  { pattern: /^workflows$/, page: "workflows", title: "Workflows", nav: "workflows" },
  { pattern: /^workflows\/([^/]+)$/, page: "workflows", title: "Workflow", keys: ["name"], nav: "workflows" },
  { pattern: /^runs\/([^/]+)$/, page: "run", title: "Run", keys: ["id"], nav: "workflows" },
  { pattern: /^admin$/, page: "admin", title: "Admin", nav: "admin" },
];
const HOME = "#/agents";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const toggle = document.querySelector(".nav-toggle");
let current = null; // the AbortController of the page on screen

/** The route for a location hash: { route, params, query, path } or null. */
export function match(hash) {
  const [path, search = ""] = hash.replace(/^#\/?/, "").split("?", 2);
  for (const route of ROUTES) {
    const found = route.pattern.exec(path);
    if (found) {
      const params = Object.fromEntries((route.keys ?? []).map((key, i) => [key, decodeURIComponent(found[i + 1])]));
      return { route, params, query: new URLSearchParams(search), path };
    }
  }
  return null;
}

async function show() {
  const found = match(location.hash);
  if (!found) {
    location.replace(HOME);
    return;
  }
  if (!found.route.open && !session) {
    const next = location.hash && location.hash !== "#/signin" ? `?next=${encodeURIComponent(location.hash)}` : "";
    location.replace(`#/signin${next}`);
    return;
  }
  current?.abort();
  const controller = new AbortController();
  current = controller;
  markNav(found.route.nav);
  closeMenu();
  document.title = `${found.route.title} · AI Agents Platform`;
  // Marked busy until it has drawn itself: what tests and assistive technology wait for.
  const root = h("div", { class: `page page-${found.route.page}`, dataset: { route: found.path }, "aria-busy": "true" });
  clear(main).append(root);
  root.append(spinner(`Loading ${found.route.title.toLowerCase()}`));
  try {
    const module = await import(`./pages/${found.route.page}.js`);
    if (controller.signal.aborted) return;
    clear(root);
    await module.render(root, { params: found.params, query: found.query, signal: controller.signal });
  } catch (err) {
    if (err?.name === "AbortError" || controller.signal.aborted) return;
    console.error(err);
    clear(root).append(h("h1", { tabindex: "-1" }, found.route.title), errorBox(err));
  }
  if (!controller.signal.aborted) {
    root.removeAttribute("aria-busy");
    focusHeading(root);
  }
}

function focusHeading(root) {
  const heading = root.querySelector("h1");
  if (heading && document.activeElement === document.body) heading.focus({ preventScroll: true });
  const announcer = document.getElementById("announcer");
  announcer.textContent = document.title;
}

function markNav(active) {
  for (const link of nav.querySelectorAll("a[data-route]")) {
    if (link.dataset.route === active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function showChrome(user) {
  nav.hidden = !user;
  toggle.hidden = !user;
  for (const link of nav.querySelectorAll("a[data-needs]")) {
    link.parentElement.hidden = !can(link.dataset.needs);
  }
  document.getElementById("who").textContent = user ? `${user.email ?? user.subject} · ${user.role} · ${user.tenant}` : "";
}

function closeMenu() {
  nav.classList.remove("open");
  toggle.setAttribute("aria-expanded", "false");
}

toggle.addEventListener("click", () => {
  const open = !nav.classList.contains("open");
  nav.classList.toggle("open", open);
  toggle.setAttribute("aria-expanded", String(open));
});

document.getElementById("signout").addEventListener("click", async () => {
  try {
    await signOut();
  } finally {
    location.hash = "#/signin";
  }
});

onSession((user) => {
  showChrome(user);
  if (!user && match(location.hash)?.route.open !== true) {
    location.hash = `#/signin?next=${encodeURIComponent(location.hash || HOME)}`;
  }
});

window.addEventListener("hashchange", show);

async function start() {
  showChrome(null);
  try {
    await refresh(); // a reload: the refresh cookie, if any, signs in again
  } catch (err) {
    console.error(err);
  }
  await show();
}

start();
