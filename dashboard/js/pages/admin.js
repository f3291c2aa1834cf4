// #/admin: the tenant's API keys (create, with the secret shown once; revoke), its users (create, change
// role, disable) and what each role may do. Each tab shows only when the session may use it.

import { ApiError, api, can, session } from "../api.js";
import { badge, errorBox, fmt, h, pageHeader, scrollArea, spinner, table, timeAgo } from "../dom.js";

const enc = encodeURIComponent;
const ROLE_RANK = { viewer: 0, developer: 1, admin: 2 };
const ROLES = ["admin", "developer", "viewer"];

/** Renders the admin tabs the session may use; `?tab=keys|users|roles` picks the open one. */
export async function render(root, { query, signal }) {
  const tabs = [
    can("keys:manage") && { id: "keys", label: "API keys", draw: keysPanel },
    can("users:manage") && { id: "users", label: "Users", draw: usersPanel },
    { id: "roles", label: "Roles", draw: rolesPanel },
  ].filter(Boolean);
  root.append(pageHeader("Admin", `Access to tenant ${session?.tenant ?? ""}: API keys, users and roles.`));

  const roles = api("/v1/roles", { signal }).catch(() => null); // shared by the tabs
  const users = can("users:manage") ? api("/v1/users", { signal }).catch(() => null) : Promise.resolve(null);
  const context = { signal, roles, users };

  const wanted = tabs.find((t) => t.id === query.get("tab")) ?? tabs[0];
  tabs.forEach((tab) => {
    tab.button = h("button", {
      type: "button", role: "tab", id: `admin-tab-${tab.id}`, "aria-controls": `admin-panel-${tab.id}`,
      "aria-selected": "false", tabindex: "-1", onclick: () => open(tab), onkeydown: (event) => onKey(event, tab),
    }, tab.label);
    tab.panel = h("section", {
      role: "tabpanel", id: `admin-panel-${tab.id}`, "aria-labelledby": `admin-tab-${tab.id}`, hidden: true,
      class: "admin-panel", tabindex: "0",
    });
  });
  root.append(h("div", { class: "tabs", role: "tablist", "aria-label": "Admin sections" }, tabs.map((t) => t.button)),
    ...tabs.map((t) => t.panel));

  function open(tab, focus = false) {
    for (const t of tabs) {
      const on = t === tab;
      t.button.setAttribute("aria-selected", String(on));
      t.button.tabIndex = on ? 0 : -1;
      t.panel.hidden = !on;
    }
    if (!tab.drawn) {
      tab.drawn = true;
      tab.panel.append(spinner(`Loading ${tab.label.toLowerCase()}`));
      tab.draw(tab.panel, context).catch((err) => {
        if (!signal.aborted) tab.panel.replaceChildren(errorBox(err));
      });
    }
    if (focus) tab.button.focus();
    history.replaceState(null, "", `#/admin?tab=${tab.id}`);
  }

  function onKey(event, tab) {
    const i = tabs.indexOf(tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    open(tabs[(next + tabs.length) % tabs.length], true);
  }

  open(wanted);
}

// -- shared pieces ------------------------------------------------------------------------------------------

let fieldIds = 0;

/** A labelled field: { element, control }. */
function field(label, control, hint) {
  fieldIds += 1;
  const id = control.id || `admin-f${fieldIds}`;
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", `${hintId} ${id}-error`);
  else control.setAttribute("aria-describedby", `${id}-error`);
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  return {
    element: h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("p", { class: "hint", id: hintId }, hint) : null, error),
    control,
    setError(message) {
      error.textContent = message ?? "";
      error.hidden = !message;
      if (message) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    },
  };
}

function roleSelect(allowed, value) {
  return h("select", {}, allowed.map((r) => h("option", { value: r, selected: r === value }, r)));
}

/** The roles the session may hand out: its own and the ones below it. */
function grantable() {
  const mine = ROLE_RANK[session?.role] ?? ROLE_RANK.admin;
  return ROLES.filter((r) => ROLE_RANK[r] <= mine);
}

/** A modal confirmation; resolves true when confirmed. */
function confirmDialog({ title, message, confirm }) {
  return new Promise((resolve) => {
    const yes = h("button", { type: "button", class: "btn btn-danger" }, confirm);
    const no = h("button", { type: "button", class: "btn" }, "Cancel");
    const dialog = h("dialog", { class: "admin-dialog", "aria-labelledby": "admin-dialog-title", "aria-describedby": "admin-dialog-text" },
      h("h2", { id: "admin-dialog-title" }, title),
      h("p", { id: "admin-dialog-text" }, message),
      h("div", { class: "form-actions" }, yes, no));
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    yes.addEventListener("click", () => done(true));
    no.addEventListener("click", () => done(false));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

function fieldOf(err) {
  return err instanceof ApiError ? String(err.field ?? "").replace(/^\/(body\/)?/, "") : "";
}

// -- API keys ------------------------------------------------------------------------------------------------

function keyState(key) {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && new Date(key.expires_at).getTime() <= Date.now()) return "expired";
  return "active";
}

async function keysPanel(panel, { signal, roles, users }) {
  const [keys, roleList, userList] = await Promise.all([api("/v1/api-keys", { signal }), roles, users]);
  if (signal.aborted) return;
  const owners = new Map((userList ?? []).map((u) => [u.id, u.email]));
  const actionsOf = new Map((roleList ?? []).map((r) => [r.name, r.actions]));
  const rows = [...keys];
  const listBox = h("div", {});
  const status = h("div", { role: "status", "aria-live": "polite", class: "admin-status" });
  const secretBox = h("div", {});

  function paintList() {
    listBox.replaceChildren(table([
      { label: "Name", value: (k) => h("strong", {}, k.name) },
      { label: "Prefix", value: (k) => h("code", {}, k.prefix) },
      { label: "Role", value: (k) => k.role },
      { label: "Scopes", value: (k) => (k.scopes?.length ? h("span", { class: "admin-scopes" }, k.scopes.join(", ")) : h("span", { class: "muted" }, "all of the role")) },
      { label: "Owner", value: (k) => (k.owner_id ? owners.get(k.owner_id) ?? h("code", { title: k.owner_id }, k.owner_id.slice(0, 8)) : h("span", { class: "muted" }, "none")) },
      { label: "Created", value: (k) => timeAgo(k.created_at) },
      { label: "Expires", value: (k) => (k.expires_at ? h("time", { datetime: k.expires_at }, fmt.time(k.expires_at)) : h("span", { class: "muted" }, "never")) },
      { label: "Status", value: (k) => badge(keyState(k)) },
      {
        label: "Actions",
        value: (k) => (keyState(k) === "revoked" ? h("span", { class: "muted" }, "–")
          : h("button", {
            type: "button", class: "btn btn-danger btn-small", onclick: () => revoke(k),
            "aria-label": `Revoke key ${k.name} (${k.prefix})`,
          }, "Revoke")),
      },
    ], rows, { caption: "API keys of this tenant", empty: "No API keys yet." }));
  }

  async function revoke(key) {
    const sure = await confirmDialog({
      title: "Revoke this API key?",
      message: `The key “${key.name}” (prefix ${key.prefix}) stops working at once: every program using it gets 401. This cannot be undone.`,
      confirm: "Revoke key",
    });
    if (!sure) return;
    status.replaceChildren();
    try {
      const revoked = await api(`/v1/api-keys/${enc(key.id)}`, { method: "DELETE", signal });
      const i = rows.findIndex((k) => k.id === key.id);
      rows[i] = revoked ?? { ...key, revoked_at: new Date().toISOString() };
      paintList();
      status.replaceChildren(h("p", { class: "alert alert-success" }, `The key “${key.name}” is revoked.`));
    } catch (err) {
      if (!signal.aborted) status.replaceChildren(errorBox(err));
    }
  }

  function showSecret(created) {
    const input = h("input", { type: "text", readonly: true, value: created.key, class: "admin-secret-value", spellcheck: "false", autocomplete: "off" });
    const copied = h("span", { role: "status", "aria-live": "polite", class: "admin-copied" });
    const heading = h("h2", { id: "admin-secret-title", tabindex: "-1" }, "Copy your new API key now");
    const copy = async () => {
      try {
        await navigator.clipboard.writeText(created.key);
        copied.textContent = "Copied to the clipboard.";
      } catch {
        input.select();
        copied.textContent = "Press Ctrl+C (⌘C) to copy the selected key.";
      }
    };
    const dismiss = () => {
      input.value = "";
      secretBox.replaceChildren();
      status.replaceChildren(h("p", { class: "alert alert-info" }, `The secret of “${created.name}” is no longer shown anywhere.`));
    };
    const inputField = field(`API key “${created.name}”`, input);
    secretBox.replaceChildren(h("section", { class: "card admin-secret", "aria-labelledby": "admin-secret-title" },
      heading,
      h("p", { class: "alert alert-error admin-warning", role: "alert" },
        h("strong", {}, "Shown only this once. "),
        "The platform keeps only a hash of this key: nobody can show it again. Store it in a secret manager now; ",
        "if it is lost, revoke it and create another."),
      inputField.element,
      h("div", { class: "form-actions" },
        h("button", { type: "button", class: "btn btn-primary", onclick: copy }, "Copy key"),
        h("button", { type: "button", class: "btn", onclick: dismiss }, "Done, I have stored it"),
        copied)));
    heading.focus();
  }

  // the form
  const name = field("Name", h("input", { type: "text", required: true, maxlength: "200", autocomplete: "off" }), "What uses the key, e.g. “billing export job”.");
  const role = field("Role", roleSelect(grantable(), session?.role ?? "viewer"), "At most your own role.");
  const days = field("Expires after (days)", h("input", { type: "number", min: "1", max: "3650", step: "1", inputmode: "numeric" }), "Leave empty for a key that does not expire.");
  const scopeBox = h("div", { class: "admin-scope-list" });
  const scopes = h("fieldset", { class: "admin-scopes-field" },
    h("legend", {}, "Scopes"),
    h("p", { class: "hint muted" }, "Limit the key to some actions of its role. None checked: everything the role allows."),
    scopeBox);
  const paintScopes = () => {
    const actions = actionsOf.get(role.control.value) ?? [];
    scopeBox.replaceChildren(...actions.map((a, i) => {
      const id = `admin-scope-${i}`;
      return h("div", { class: "field inline" },
        h("input", { type: "checkbox", id, value: a, name: "scope" }), h("label", { for: id }, h("code", {}, a)));
    }));
  };
  role.control.addEventListener("change", paintScopes);
  paintScopes();
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Create key");
  const formError = h("div", {});

  async function onsubmit(event) {
    event.preventDefault();
    for (const f of [name, role, days]) f.setError(null);
    formError.replaceChildren();
    const body = { name: name.control.value.trim(), role: role.control.value };
    if (!body.name) {
      name.setError("Give the key a name.");
      name.control.focus();
      return;
    }
    if (days.control.value) {
      const n = Number(days.control.value);
      if (!Number.isInteger(n) || n < 1 || n > 3650) {
        days.setError("A whole number of days from 1 to 3650.");
        days.control.focus();
        return;
      }
      body.expires_in_days = n;
    }
    body.scopes = [...scopeBox.querySelectorAll("input:checked")].map((c) => c.value);
    submit.disabled = true;
    try {
      const created = await api("/v1/api-keys", { method: "POST", body, signal });
      const { key: _secret, ...visible } = created;
      rows.unshift(visible);
      paintList();
      event.target.reset();
      paintScopes();
      showSecret(created);
    } catch (err) {
      if (signal.aborted) return;
      const target = { name, role, expires_in_days: days }[fieldOf(err)];
      if (target) target.setError(err.message);
      formError.replaceChildren(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  }

  panel.replaceChildren(
    secretBox,
    h("section", { class: "card", "aria-labelledby": "admin-newkey-title" },
      h("h2", { id: "admin-newkey-title" }, "Create an API key"),
      h("form", { onsubmit, novalidate: true },
        h("div", { class: "admin-form-row" }, name.element, role.element, days.element),
        h("details", { class: "admin-scopes-more" }, h("summary", {}, "Limit the key to some actions (scopes)"), scopes),
        h("div", { class: "form-actions" }, submit), formError)),
    h("section", { class: "card", "aria-labelledby": "admin-keys-title" },
      h("h2", { id: "admin-keys-title" }, "API keys"), status, listBox));
  paintList();
}

// -- users ----------------------------------------------------------------------------------------------------

async function usersPanel(panel, { signal, users }) {
  let list = await users;
  if (list === null) list = await api("/v1/users", { signal });
  if (signal.aborted) return;
  const rows = [...list];
  const listBox = h("div", {});
  const status = h("div", { role: "status", "aria-live": "polite", class: "admin-status" });
  const problem = h("div", {});

  const replace = (user) => {
    const i = rows.findIndex((u) => u.id === user.id);
    rows[i] = { ...rows[i], ...user };
    paintList();
  };

  async function change(user, patch, done) {
    status.replaceChildren();
    problem.replaceChildren();
    try {
      const changed = await api(`/v1/users/${enc(user.id)}`, { method: "PATCH", body: patch, signal });
      replace(changed);
      status.replaceChildren(h("p", { class: "alert alert-success" }, done(changed)));
    } catch (err) {
      if (signal.aborted) return;
      const why = err instanceof ApiError && err.status === 409
        ? h("p", {}, "The tenant must keep at least one active admin: make another user admin first.")
        : null;
      problem.replaceChildren(errorBox(err), why); // errorBox is the alert; `why` explains it
      paintList(); // puts the role select back
    }
  }

  function roleCell(user) {
    const select = roleSelect(ROLES, user.role);
    select.id = `admin-role-${user.id}`;
    const save = h("button", { type: "button", class: "btn btn-small", disabled: true }, "Save role");
    save.setAttribute("aria-label", `Save role of ${user.email}`);
    select.addEventListener("change", () => { save.disabled = select.value === user.role; });
    save.addEventListener("click", () => change(user, { role: select.value },
      (u) => `${u.email} is now ${u.role}.`));
    return h("div", { class: "admin-role-cell" },
      h("label", { for: select.id, class: "visually-hidden" }, `Role of ${user.email}`), select, save);
  }

  function paintList() {
    listBox.replaceChildren(table([
      { label: "E-mail", value: (u) => [u.email, u.email === session?.email ? h("span", { class: "muted" }, " (you)") : null] },
      { label: "Role", value: roleCell },
      { label: "Status", value: (u) => (u.disabled ? badge("disabled") : badge("active")) },
      { label: "Created", value: (u) => timeAgo(u.created_at) },
      {
        label: "Actions",
        value: (u) => h("button", {
          type: "button", class: u.disabled ? "btn btn-small" : "btn btn-small btn-danger",
          "aria-label": `${u.disabled ? "Enable" : "Disable"} ${u.email}`,
          onclick: () => change(u, { disabled: !u.disabled },
            (c) => `${c.email} is ${c.disabled ? "disabled: signing in and renewing sessions are refused" : "enabled"}.`),
        }, u.disabled ? "Enable" : "Disable"),
      },
    ], rows, { caption: "Users of this tenant", empty: "No users yet." }));
  }

  const email = field("E-mail", h("input", { type: "email", required: true, autocomplete: "off", maxlength: "320" }));
  const password = field("Password", h("input", { type: "password", required: true, minlength: "12", autocomplete: "new-password" }),
    "At least 12 characters. Hand it to the user over a safe channel.");
  const role = field("Role", roleSelect(ROLES, "viewer"));
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Create user");
  const formError = h("div", {});

  async function onsubmit(event) {
    event.preventDefault();
    for (const f of [email, password, role]) f.setError(null);
    formError.replaceChildren();
    const body = { email: email.control.value.trim(), password: password.control.value, role: role.control.value };
    if (!/^[^@\s]+@[^@\s]+$/.test(body.email)) {
      email.setError("An e-mail address such as name@example.com.");
      email.control.focus();
      return;
    }
    if (body.password.length < 12) {
      password.setError("At least 12 characters.");
      password.control.focus();
      return;
    }
    submit.disabled = true;
    try {
      const created = await api("/v1/users", { method: "POST", body, signal });
      rows.push({ disabled: false, created_at: new Date().toISOString(), ...created });
      paintList();
      event.target.reset();
      status.replaceChildren(h("p", { class: "alert alert-success" }, `${created.email} can now sign in as ${created.role}.`));
    } catch (err) {
      if (signal.aborted) return;
      const target = { email, password, role }[fieldOf(err)];
      if (target) target.setError(err.message);
      formError.replaceChildren(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  }

  panel.replaceChildren(
    h("section", { class: "card", "aria-labelledby": "admin-newuser-title" },
      h("h2", { id: "admin-newuser-title" }, "Add a user"),
      h("form", { onsubmit, novalidate: true },
        h("div", { class: "admin-form-row" }, email.element, password.element, role.element),
        h("div", { class: "form-actions" }, submit), formError)),
    h("section", { class: "card", "aria-labelledby": "admin-users-title" },
      h("h2", { id: "admin-users-title" }, "Users"), status, problem, listBox));
  paintList();
}

// -- roles ------------------------------------------------------------------------------------------------------

async function rolesPanel(panel, { signal, roles }) {
  const list = (await roles) ?? (await api("/v1/roles", { signal }));
  if (signal.aborted) return;
  const actions = [...new Set(list.flatMap((r) => r.actions))];
  const mark = (yes) => (yes
    ? h("span", { class: "admin-yes" }, h("span", { "aria-hidden": "true" }, "✓ "), "yes")
    : h("span", { class: "admin-no" }, h("span", { "aria-hidden": "true" }, "– "), "no"));
  const listOf = (items) => (items.length ? items.join(", ") : h("span", { class: "muted" }, "none"));
  panel.replaceChildren(h("section", { class: "card", "aria-labelledby": "admin-roles-title" },
    h("h2", { id: "admin-roles-title" }, "Roles"),
    h("p", { class: "muted" }, "What each role may do. A restricted category's agents can be read but not invoked by that role."),
    scrollArea("Actions granted to each role",
      h("table", { class: "table admin-matrix" },
        h("caption", {}, "Actions granted to each role"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Action"), list.map((r) => h("th", { scope: "col", class: "admin-role-col" }, r.name)))),
        h("tbody", {},
          actions.map((a) => h("tr", {},
            h("th", { scope: "row" }, h("code", {}, a)),
            list.map((r) => h("td", { class: "admin-role-col" }, mark(r.actions.includes(a)))))),
          h("tr", { class: "admin-extra" }, h("th", { scope: "row" }, "Restricted categories"),
            list.map((r) => h("td", { class: "admin-role-col" }, listOf(r.restricted_categories ?? [])))),
          h("tr", { class: "admin-extra" }, h("th", { scope: "row" }, "Denied agents"),
            list.map((r) => h("td", { class: "admin-role-col" }, listOf(r.denied_agents ?? [])))))))));
}
