// An agent's versions on its page: what answers calls (the active version and any canary), every stored
// version with its calls, error rate and latency over the last day, and, for those who may publish,
// making an earlier version active again or promoting the canary.

import { ApiError, api, can } from "./api.js";
import { badge, card, errorBox, fmt, h, table } from "./dom.js";

const enc = encodeURIComponent;

/** The "Versions" card of agent `name`. */
export function versionsCard(name, { signal }) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading versions…"));
  const status = h("div", { "aria-live": "polite" });
  const element = card("Versions", status, body);

  async function load() {
    const [listed, compared] = await Promise.all([
      api(`/v1/agents/${enc(name)}/versions`, { signal }),
      can("analytics:read")
        ? api(`/v1/analytics/versions?agent=${enc(name)}&hours=24`, { signal }).catch(() => ({ items: [] }))
        : { items: [] },
    ]);
    if (signal.aborted) return;
    body.replaceChildren(...view(listed, compared.items));
  }

  function view(listed, figures) {
    const release = listed.release;
    const byVersion = new Map(figures.map((row) => [row.version, row]));
    const rows = listed.versions.length
      ? listed.versions
      : [{ version: listed.catalogue_version, source: "catalogue", created_by: null, created_at: null }];
    const role = (version) => {
      if (!release) return version === listed.catalogue_version ? "active" : "stored";
      if (version === release.active) return "active";
      return version === release.canary ? "canary" : "stored";
    };
    const summary = release
      ? [`Active: ${release.active}`, release.canary ? `, canary ${release.canary} on ${release.canary_percent} % of calls` : ""]
      : [`Active: ${listed.catalogue_version}, from the catalogue (never published)`];
    const columns = [
      { label: "Version", value: (r) => h("code", {}, r.version) },
      { label: "Answers", value: (r) => badge(role(r.version) === "stored" ? "skipped" : role(r.version) === "canary" ? "running" : "ok", role(r.version)) },
      { label: "Source", value: (r) => r.source },
      { label: "Calls, 24 h", numeric: true, value: (r) => fmt.number(byVersion.get(r.version)?.calls ?? 0) },
      { label: "Error rate", numeric: true, value: (r) => (byVersion.has(r.version) ? fmt.pct(byVersion.get(r.version).error_rate) : "–") },
      { label: "p50 / p95", numeric: true, value: (r) => (byVersion.has(r.version) ? `${fmt.ms(byVersion.get(r.version).p50_ms)} / ${fmt.ms(byVersion.get(r.version).p95_ms)}` : "–") },
      { label: "Stored", value: (r) => (r.created_at ? fmt.ago(r.created_at) : "–") },
    ];
    if (can("agents:publish") && release) {
      columns.push({ label: "Actions", value: (r) => actionFor(r.version, role(r.version), release) });
    }
    return [
      h("p", {}, summary),
      table(columns, rows, { caption: `Versions of ${name}` }),
      h("p", { class: "muted" }, "Call a version by name: ", h("code", {}, `${name}@<version>`), "."),
    ];
  }

  function actionFor(version, answers, release) {
    if (answers === "canary") {
      return h("button", { type: "button", class: "btn btn-small", onclick: () => change("promote", {}, `${version} is now active.`) },
        `Promote ${version}`);
    }
    if (answers === "active" && !release.canary) return "";
    const label = answers === "active" ? `End the canary` : `Make ${version} active`;
    return h("button", { type: "button", class: "btn btn-small", onclick: () => change("rollback", { version }, `${version} is active.`) }, label);
  }

  async function change(action, body, done) {
    status.replaceChildren();
    try {
      await api(`/v1/agents/${enc(name)}/${action}`, { method: "POST", body, signal });
      status.replaceChildren(h("p", { class: "alert alert-success" }, done));
      await load();
    } catch (err) {
      if (signal.aborted) return;
      status.replaceChildren(errorBox(err instanceof ApiError ? err : { message: String(err) }));
    }
  }

  load().catch((err) => {
    if (!signal.aborted) body.replaceChildren(errorBox(err));
  });
  return element;
}
