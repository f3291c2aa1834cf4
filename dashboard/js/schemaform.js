// A form generated from a JSON Schema (2020-12) of type object, and the typed value it holds. The pure
// helpers (kinds, coercion, validation, error paths, schema rows) are exported for tests and for pages
// that show schemas.

import { h } from "./dom.js";

const SCALARS = new Set(["string", "number", "integer", "boolean"]);
const TYPE_NAMES = {
  string: "text", number: "a number", integer: "a whole number", boolean: "true or false",
  array: "a list", object: "an object", null: "null",
};

/** A JSON Pointer (RFC 6901) for a list of keys and indexes. */
export function pointer(parts) {
  return parts.map((p) => "/" + String(p).replaceAll("~", "~0").replaceAll("/", "~1")).join("");
}

/** The single type a schema names (a nullable ["string", "null"] counts as "string"), or null. */
export function typeOf(schema) {
  if (!schema || typeof schema !== "object") return null;
  const { type } = schema;
  if (typeof type === "string") return type;
  if (Array.isArray(type)) {
    const real = type.filter((t) => t !== "null");
    return real.length === 1 ? real[0] : null;
  }
  if (schema.properties) return "object";
  return null;
}

function isComposite(schema) {
  return Boolean(schema && (schema.$ref || schema.oneOf || schema.anyOf || schema.allOf || schema.not));
}

function isEnum(schema) {
  return Array.isArray(schema?.enum) && schema.enum.length > 0
    && schema.enum.every((v) => v === null || typeof v !== "object");
}

/** How a schema is edited: "string", "textarea", "enum", "boolean", "number", "list" (scalars, one a
 * line), "object" (a fieldset of fields) or "json" (a JSON textarea for anything else). */
export function kindOf(schema) {
  if (!schema || typeof schema !== "object" || isComposite(schema)) return "json";
  const type = typeOf(schema);
  if (isEnum(schema) && (type === null || SCALARS.has(type))) return "enum";
  switch (type) {
    case "string":
      return (schema.maxLength ?? 0) > 200 || String(schema.description ?? "").includes("\n") ? "textarea" : "string";
    case "number":
    case "integer":
      return "number";
    case "boolean":
      return "boolean";
    case "array": {
      const items = schema.items;
      return items && !isComposite(items) && SCALARS.has(typeOf(items)) ? "list" : "json";
    }
    case "object":
      return schema.properties && Object.keys(schema.properties).length ? "object" : "json";
    default:
      return "json";
  }
}

/** The <input type> for a one-line string. */
export function inputTypeFor(schema) {
  return { date: "date", email: "email", uri: "url" }[schema?.format] ?? "text";
}

/** "word_count" -> "Word count" (a schema's `title` wins). */
export function labelFor(name, schema) {
  if (schema?.title) return schema.title;
  const words = String(name).replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The text a control shows for a value (lists one item a line, JSON pretty-printed). */
export function toRaw(kind, schema, value) {
  if (value === undefined) return kind === "boolean" ? false : "";
  switch (kind) {
    case "boolean":
      return Boolean(value);
    case "enum": {
      const i = schema.enum.findIndex((v) => v === value);
      return i < 0 ? "" : String(i);
    }
    case "list":
      return Array.isArray(value) ? value.map((v) => String(v)).join("\n") : "";
    case "json":
      return JSON.stringify(value, null, 2);
    default:
      return value === null ? "" : String(value);
  }
}

function coerceScalar(type, text) {
  if (type === "number" || type === "integer") {
    const n = Number(text);
    return Number.isFinite(n) && text.trim() !== "" ? { value: n } : { error: `"${text}" is not a number.` };
  }
  if (type === "boolean") {
    const lower = text.toLowerCase();
    if (lower === "true" || lower === "false") return { value: lower === "true" };
    return { error: `"${text}" is not true or false.` };
  }
  return { value: text };
}

/** A control's raw value as the typed value: { value } or { empty: true } or { error }. */
export function coerce(kind, schema, raw) {
  switch (kind) {
    case "boolean":
      return { value: Boolean(raw) };
    case "enum":
      return raw === "" || raw === undefined ? { empty: true } : { value: schema.enum[Number(raw)] };
    case "number": {
      const text = String(raw ?? "");
      return text.trim() === "" ? { empty: true } : coerceScalar("number", text);
    }
    case "list": {
      const lines = String(raw ?? "").split(/\r?\n/).map((l) => l.trim());
      const items = [];
      for (const [i, line] of lines.entries()) {
        if (line === "") continue;
        const one = coerceScalar(typeOf(schema.items), line);
        if (one.error) return { error: `Line ${i + 1}: ${one.error}` };
        items.push(one.value);
      }
      return items.length ? { value: items } : { empty: true };
    }
    case "json": {
      const text = String(raw ?? "").trim();
      if (text === "") return { empty: true };
      try {
        return { value: JSON.parse(text) };
      } catch (err) {
        return { error: `Not valid JSON: ${err.message}` };
      }
    }
    default:
      return String(raw ?? "").trim() === "" ? { empty: true } : { value: String(raw) };
  }
}

function typeMatches(type, value) {
  switch (type) {
    case "string": return typeof value === "string";
    case "number": return typeof value === "number" && Number.isFinite(value);
    case "integer": return Number.isInteger(value);
    case "boolean": return typeof value === "boolean";
    case "array": return Array.isArray(value);
    case "object": return value !== null && typeof value === "object" && !Array.isArray(value);
    case "null": return value === null;
    default: return true;
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function formatProblem(format, value) {
  if (format === "date") {
    const m = DATE.exec(value);
    const d = m && new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    return d && d.getUTCDate() === +m[3] && d.getUTCMonth() === +m[2] - 1 ? null : "Must be a date (YYYY-MM-DD).";
  }
  if (format === "date-time") {
    return DATE_TIME.test(value) ? null : "Must be a date and time such as 2025-01-31T09:00:00Z.";
  }
  if (format === "email") return /^[^\s@]+@[^\s@]+$/.test(value) ? null : "Must be an e-mail address.";
  if (format === "uri") {
    try {
      new URL(value);
      return null;
    } catch {
      return "Must be an absolute URL such as https://example.com.";
    }
  }
  return null;
}

function stringProblems(schema, value) {
  const out = [];
  const length = [...value].length;
  if (schema.minLength !== undefined && length < schema.minLength) {
    out.push(`Must be at least ${schema.minLength} characters.`);
  }
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    out.push(`Must be at most ${schema.maxLength} characters (now ${length}).`);
  }
  if (schema.pattern) {
    try {
      if (!new RegExp(schema.pattern, "u").test(value)) out.push(`Must match the pattern ${schema.pattern}.`);
    } catch { /* a pattern this browser cannot compile is left to the server */ }
  }
  const format = schema.format && formatProblem(schema.format, value);
  if (format) out.push(format);
  return out;
}

function numberProblems(schema, value) {
  const out = [];
  if (schema.minimum !== undefined && value < schema.minimum) out.push(`Must be at least ${schema.minimum}.`);
  if (schema.maximum !== undefined && value > schema.maximum) out.push(`Must be at most ${schema.maximum}.`);
  if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) {
    out.push(`Must be more than ${schema.exclusiveMinimum}.`);
  }
  if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum) {
    out.push(`Must be less than ${schema.exclusiveMaximum}.`);
  }
  if (schema.multipleOf) {
    const q = value / schema.multipleOf;
    if (Math.abs(q - Math.round(q)) > 1e-9) out.push(`Must be a multiple of ${schema.multipleOf}.`);
  }
  return out;
}

/** The problems of `value` against `schema` that can be seen without a full validator: type, enum,
 * const, required, lengths, ranges, patterns, formats, item counts and unexpected properties.
 * Returns [{ path, message }] with JSON Pointers under `path`; a missing required property is
 * reported at its own path. */
export function validateValue(schema, value, path = "") {
  if (!schema || typeof schema !== "object" || value === undefined) return [];
  const here = (message) => [{ path, message }];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(t, value))) {
      return here(`Must be ${types.map((t) => TYPE_NAMES[t] ?? t).join(" or ")}.`);
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((v) => JSON.stringify(v) === JSON.stringify(value))) {
    return here(`Must be one of: ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}.`);
  }
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    return here(`Must be ${JSON.stringify(schema.const)}.`);
  }
  if (typeof value === "string") return stringProblems(schema, value).map((m) => ({ path, message: m }));
  if (typeof value === "number") return numberProblems(schema, value).map((m) => ({ path, message: m }));
  if (Array.isArray(value)) return arrayProblems(schema, value, path);
  if (value !== null && typeof value === "object") return objectProblems(schema, value, path);
  return [];
}

function arrayProblems(schema, value, path) {
  const out = [];
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    out.push({ path, message: `Needs at least ${schema.minItems} item${schema.minItems === 1 ? "" : "s"}.` });
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    out.push({ path, message: `At most ${schema.maxItems} items (now ${value.length}).` });
  }
  if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) {
    out.push({ path, message: "Items must all be different." });
  }
  if (schema.items && typeof schema.items === "object") {
    value.forEach((item, i) => out.push(...validateValue(schema.items, item, `${path}/${i}`)));
  }
  return out;
}

function objectProblems(schema, value, path) {
  const out = [];
  const properties = schema.properties ?? {};
  for (const name of schema.required ?? []) {
    if (!(name in value)) out.push({ path: path + pointer([name]), message: "Required." });
  }
  for (const [name, item] of Object.entries(value)) {
    const sub = path + pointer([name]);
    if (name in properties) out.push(...validateValue(properties[name], item, sub));
    else if (schema.additionalProperties === false && !schema.patternProperties) {
      out.push({ path: sub, message: `"${name}" is not an expected property.` });
    } else if (typeof schema.additionalProperties === "object") {
      out.push(...validateValue(schema.additionalProperties, item, sub));
    }
  }
  return out;
}

const REQUIRED_MESSAGE = /^["']?([^"']+)["']? is a required property/;
const UNEXPECTED_MESSAGE = /^Additional properties are not allowed \('([^']+)' was unexpected\)/;

/** An error's path relative to the form: "/input/topic" -> "/topic"; a "'topic' is a required
 * property" (or "'x' was unexpected") reported on the parent object moves to "/topic" ("/x"). `known(path)` says whether the form has a
 * field there (so a property really named "input" still wins). */
export function formPath(error, known = () => false) {
  let path = String(error?.path ?? error?.field ?? "");
  if (path !== "" && !path.startsWith("/")) path = "/" + path;
  const message = String(error?.message ?? "");
  const named = REQUIRED_MESSAGE.exec(message) ?? UNEXPECTED_MESSAGE.exec(message);
  const child = (p) => (named ? p + pointer([named[1]]) : p);
  if (path !== "/input" && !path.startsWith("/input/")) return child(path);
  const stripped = child(path.slice("/input".length));
  const kept = child(path);
  return known(kept) && !known(stripped) ? kept : stripped;
}

function allowedLabel(schema) {
  const parts = [];
  if (isEnum(schema)) parts.push(schema.enum.map((v) => String(v)).join(", "));
  const lo = schema.minimum ?? (typeof schema.exclusiveMinimum === "number" ? `> ${schema.exclusiveMinimum}` : undefined);
  const hi = schema.maximum ?? (typeof schema.exclusiveMaximum === "number" ? `< ${schema.exclusiveMaximum}` : undefined);
  if (schema.minimum !== undefined && schema.maximum !== undefined) parts.push(`${lo} – ${hi}`);
  else if (lo !== undefined) parts.push(typeof lo === "number" ? `≥ ${lo}` : lo);
  else if (hi !== undefined) parts.push(typeof hi === "number" ? `≤ ${hi}` : hi);
  if (schema.minLength !== undefined && schema.maxLength !== undefined) {
    parts.push(`${schema.minLength}–${schema.maxLength} characters`);
  } else if (schema.maxLength !== undefined) parts.push(`up to ${schema.maxLength} characters`);
  else if (schema.minLength !== undefined) parts.push(`at least ${schema.minLength} characters`);
  if (schema.pattern) parts.push(`pattern ${schema.pattern}`);
  if (schema.minItems !== undefined) parts.push(`at least ${schema.minItems} items`);
  if (schema.maxItems !== undefined) parts.push(`up to ${schema.maxItems} items`);
  if (schema.items && isEnum(schema.items)) parts.push(`each one of: ${schema.items.enum.join(", ")}`);
  return parts.join("; ");
}

/** A short name of a schema's type: "string (date)", "array of integer", "one of 2 schemas". */
export function typeLabel(schema) {
  if (!schema || typeof schema !== "object") return "any";
  if (schema.$ref) return `see ${schema.$ref}`;
  for (const key of ["oneOf", "anyOf", "allOf"]) {
    if (Array.isArray(schema[key])) {
      return `${{ oneOf: "one of", anyOf: "any of", allOf: "all of" }[key]}: ${schema[key].map(typeLabel).join(" | ")}`;
    }
  }
  const type = Array.isArray(schema.type) ? schema.type.join(" or ") : typeOf(schema);
  if (!type) return isEnum(schema) ? "enum" : "any";
  if (type === "array") return schema.items ? `array of ${typeLabel(schema.items)}` : "array";
  return schema.format ? `${type} (${schema.format})` : type;
}

/** The properties of an object schema as table rows, nested objects (and arrays of objects) following
 * their parent one level deeper: [{ name, depth, type, required, allowed, default, description }]. */
export function schemaRows(schema, depth = 0) {
  const rows = [];
  const required = new Set(schema?.required ?? []);
  for (const [name, prop] of Object.entries(schema?.properties ?? {})) {
    rows.push({
      name, depth, type: typeLabel(prop), required: required.has(name), allowed: allowedLabel(prop ?? {}),
      default: prop?.default, description: prop?.description ?? "",
    });
    const type = typeOf(prop);
    if (type === "object" && prop.properties) rows.push(...schemaRows(prop, depth + 1));
    else if (type === "array" && typeOf(prop.items) === "object" && prop.items.properties) {
      rows.push(...schemaRows(prop.items, depth + 1));
    }
  }
  return rows;
}

/** A placeholder showing the shape of a JSON value for a schema. */
export function exampleOf(schema, depth = 0) {
  if (!schema || typeof schema !== "object" || depth > 3) return null;
  if (schema.default !== undefined) return schema.default;
  if (isEnum(schema)) return schema.enum[0];
  switch (typeOf(schema)) {
    case "string": return schema.format === "date" ? "2025-01-31" : "";
    case "number": case "integer": return schema.minimum ?? 0;
    case "boolean": return false;
    case "array": return schema.items ? [exampleOf(schema.items, depth + 1)] : [];
    case "object":
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, exampleOf(v, depth + 1)]));
    default: return null;
  }
}

// -- the form --------------------------------------------------------------------------------------

/**
 * A form for an object schema.
 * Returns { element, value(), validate(), setErrors(errors), clearErrors() }: `value()` is the typed
 * value (empty optional fields omitted); `validate()` shows and returns [{ path, message }];
 * `setErrors()` shows errors by JSON Pointer ("/topic" or "/input/topic"), unknown paths on the form.
 */
export function schemaForm(schema, { idPrefix = "f", value } = {}) {
  const ids = new Set();
  const fields = new Map();
  const makeId = (path) => {
    const base = `${idPrefix}-${path.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "value"}`;
    let id = base;
    for (let i = 2; ids.has(id) || document.getElementById(id); i += 1) id = `${base}-${i}`;
    ids.add(id);
    return id;
  };
  const context = { makeId, fields };
  const formError = h("div", { class: "alert alert-error sf-form-error", role: "alert", hidden: true });
  const rootKind = kindOf(schema) === "object" ? "object" : "json";
  const root = rootKind === "object"
    ? objectControl(context, schema, "", { name: null, required: true, initial: value, root: true })
    : scalarControl(context, "json", schema ?? {}, "", { name: "input", required: true, initial: value, label: "Input (JSON)" });
  const hasRequired = [...fields.values()].some((f) => f.marked);
  const element = h("div", { class: "sf-form" },
    formError,
    hasRequired ? h("p", { class: "muted sf-note" }, "Fields marked ", h("span", { class: "required sf-required" }, "*"), " are required.") : null,
    root.element);

  const known = (path) => fields.has(path);
  const ownerOf = (path) => {
    for (let p = path; ; p = p.slice(0, p.lastIndexOf("/"))) {
      if (fields.has(p)) return fields.get(p);
      if (p === "") return null;
    }
  };

  function clearErrors() {
    formError.hidden = true;
    formError.replaceChildren();
    for (const field of fields.values()) field.showErrors([]);
  }

  function show(errors) {
    const byField = new Map();
    const loose = [];
    for (const error of errors) {
      const owner = ownerOf(error.path);
      if (!owner) {
        loose.push(error);
        continue;
      }
      const inner = error.path.slice(owner.path.length);
      const message = inner ? `${inner}: ${error.message}` : error.message;
      byField.set(owner, [...(byField.get(owner) ?? []), message]);
    }
    for (const [field, messages] of byField) field.showErrors(messages);
    if (loose.length) {
      formError.replaceChildren(h("p", {}, "Please check the input:"),
        h("ul", {}, loose.map((e) => h("li", {}, e.path ? [h("code", {}, e.path), " ", e.message] : e.message))));
      formError.hidden = false;
    }
  }

  function validate() {
    clearErrors();
    const parsed = [];
    for (const field of fields.values()) {
      const read = field.read();
      if (read.error) parsed.push({ path: field.path, message: read.error });
    }
    const broken = (path) => parsed.some((p) => path === p.path || path.startsWith(p.path + "/"));
    const current = root.read();
    const checked = validateValue(schema, current.value ?? (rootKind === "object" ? {} : undefined), "")
      .filter((e) => !broken(e.path));
    const errors = [...parsed, ...checked];
    show(errors);
    return errors;
  }

  function setErrors(errors) {
    clearErrors();
    const list = Array.isArray(errors) ? errors : Array.isArray(errors?.details) ? errors.details : [];
    show(list.map((e) => ({ path: formPath(e, known), message: String(e?.message ?? e?.msg ?? "Invalid.") })));
  }

  return {
    element,
    value: () => root.read().value ?? (rootKind === "object" ? {} : undefined),
    validate,
    setErrors,
    clearErrors,
  };
}

function register(context, field) {
  context.fields.set(field.path, field);
  return field;
}

function errorSlot(id) {
  return h("p", { class: "field-error", id, hidden: true });
}

function setSlot(slot, messages) {
  slot.replaceChildren(...messages.flatMap((m, i) => (i ? [h("br"), m] : [m])));
  slot.hidden = messages.length === 0;
}

function describedBy(...ids) {
  return ids.filter(Boolean).join(" ") || null;
}

function objectControl(context, schema, path, { name, required, initial, root = false }) {
  const required_ = new Set(schema.required ?? []);
  const start = initial && typeof initial === "object" && !Array.isArray(initial) ? initial : undefined;
  const children = Object.entries(schema.properties ?? {}).map(([key, sub]) => {
    const subPath = path + pointer([key]);
    const options = { name: key, required: required_.has(key), initial: start?.[key] ?? sub?.default };
    const kind = kindOf(sub);
    return [key, kind === "object"
      ? objectControl(context, sub, subPath, options)
      : scalarControl(context, kind, sub, subPath, options)];
  });
  const read = () => {
    const out = {};
    for (const [key, child] of children) {
      const r = child.read();
      if (!r.error && !r.empty) out[key] = r.value;
    }
    const empty = Object.keys(out).length === 0 && !required && !root;
    return empty ? { empty: true } : { value: out };
  };
  if (root) return { element: h("div", { class: "sf-fields" }, children.map(([, c]) => c.element)), read };

  const id = context.makeId(path);
  const hintId = schema.description ? `${id}-hint` : null;
  const slot = errorSlot(`${id}-error`);
  const element = h("fieldset", { class: "sf-object", id, "aria-describedby": describedBy(hintId) },
    h("legend", {}, labelFor(name, schema), required ? h("span", { class: "required sf-required", "aria-hidden": "true" }, " *") : null),
    hintId ? h("p", { class: "hint", id: hintId }, schema.description) : null,
    slot,
    children.map(([, c]) => c.element));
  register(context, {
    path, marked: required, read,
    showErrors(messages) {
      setSlot(slot, messages);
      if (messages.length) element.setAttribute("aria-describedby", describedBy(hintId, slot.id));
      else if (hintId) element.setAttribute("aria-describedby", hintId);
      else element.removeAttribute("aria-describedby");
    },
  });
  return { element, read };
}

function controlFor(kind, schema, attrs, initial) {
  const raw = toRaw(kind, schema, initial);
  switch (kind) {
    case "boolean":
      return h("input", { ...attrs, type: "checkbox", checked: raw });
    case "enum":
      return h("select", attrs,
        attrs.required ? null : h("option", { value: "" }, "—"),
        schema.enum.map((v, i) => h("option", { value: String(i), selected: raw === String(i) }, v === null ? "null" : String(v))));
    case "number":
      return h("input", {
        ...attrs, type: "number", inputmode: typeOf(schema) === "integer" ? "numeric" : "decimal",
        min: schema.minimum ?? schema.exclusiveMinimum, max: schema.maximum ?? schema.exclusiveMaximum,
        step: schema.multipleOf ?? (typeOf(schema) === "integer" ? 1 : "any"), value: raw,
      });
    case "string":
      return h("input", {
        ...attrs, type: inputTypeFor(schema), value: raw, maxlength: schema.maxLength, minlength: schema.minLength,
        autocomplete: "off",
      });
    case "textarea":
      return h("textarea", { ...attrs, rows: (schema.maxLength ?? 0) > 2000 ? 6 : 3, maxlength: schema.maxLength, value: raw });
    case "list":
      return h("textarea", { ...attrs, rows: 4, class: "sf-list", value: raw });
    default:
      return h("textarea", {
        ...attrs, rows: 6, class: "sf-json", spellcheck: "false", value: raw,
        placeholder: `Example: ${JSON.stringify(exampleOf(schema))}`,
      });
  }
}

function hintFor(kind, schema) {
  const parts = [];
  if (schema.description) parts.push(/[.!?:]$/.test(schema.description.trim()) ? schema.description.trim() : `${schema.description.trim()}.`);
  if (kind === "list") {
    const item = schema.items;
    if (isEnum(item)) parts.push(`Allowed: ${item.enum.join(", ")}.`);
    else if (typeOf(item) !== "string") parts.push(`Each line ${TYPE_NAMES[typeOf(item)]}.`);
  }
  if (kind === "json") parts.push(`Enter JSON (${typeLabel(schema)}).`);
  if (kind === "string" && schema.format === "date-time") parts.push("For example 2025-01-31T09:00:00Z.");
  return parts.join(" ");
}

function scalarControl(context, kind, schema, path, { name, required, initial, label }) {
  const id = context.makeId(path);
  const hint = hintFor(kind, schema);
  const hintId = hint ? `${id}-hint` : null;
  const slot = errorSlot(`${id}-error`);
  // A checkbox always has a value, so a required boolean asks nothing of the user and is not marked.
  const marked = required && kind !== "boolean";
  const attrs = {
    id, name: name ?? undefined, required: marked, "aria-required": marked ? "true" : null,
    "aria-describedby": describedBy(hintId),
  };
  const control = controlFor(kind, schema, attrs, initial);
  let touched = false;
  const errorsOff = () => { touched = true; field.showErrors([]); };
  control.addEventListener("input", errorsOff);
  control.addEventListener("change", errorsOff);
  const text = label ?? labelFor(name, schema);
  const labelEl = h("label", { for: id }, text,
    kind === "list" ? h("span", { class: "sf-aside" }, " (one per line)") : null,
    marked ? h("span", { class: "required sf-required", "aria-hidden": "true" }, " *") : null);
  const hintEl = hintId ? h("p", { class: "hint", id: hintId }, hint) : null;
  const element = kind === "boolean"
    ? h("div", { class: "field sf-field sf-check" }, h("div", { class: "sf-check-row" }, control, labelEl), hintEl, slot)
    : h("div", { class: ["field", "sf-field", kind === "json" && "sf-field-json"] }, labelEl, control, hintEl, slot);

  const read = () => {
    if (kind === "number" && control.validity?.badInput) return { error: "Enter a number." };
    const raw = kind === "boolean" ? control.checked : control.value;
    const result = coerce(kind, schema, raw);
    // An optional checkbox nobody touched, with no default, says nothing.
    if (kind === "boolean" && !required && initial === undefined && !touched) return { empty: true };
    return result;
  };
  const field = register(context, {
    path, marked, read,
    showErrors(messages) {
      setSlot(slot, messages);
      if (messages.length) {
        control.setAttribute("aria-invalid", "true");
        control.setAttribute("aria-describedby", describedBy(hintId, slot.id));
      } else {
        control.removeAttribute("aria-invalid");
        if (hintId) control.setAttribute("aria-describedby", hintId);
        else control.removeAttribute("aria-describedby");
      }
    },
  });
  return { element, read };
}
