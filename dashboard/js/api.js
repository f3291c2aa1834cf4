// The session and every call to the /v1 API. The access token lives only in this module's memory; the
// refresh cookie is HttpOnly, so a reload signs in again through POST /v1/auth/refresh.

import { parseEvents, textChunks } from "./sse.js";

const REFRESH_MARGIN = 0.8; // refresh when this share of the token's lifetime has passed

export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error ?? {};
    super(error.message ?? `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.type = error.type ?? "http_error";
    this.details = error.details ?? null;
    this.field = fieldOf(this.details);
  }
}

/** The field an error's details name: {"field": "/role"}, or the first of [{"path": "/input/topic"}]. */
function fieldOf(details) {
  if (!details) return null;
  if (Array.isArray(details)) return details.find((d) => d && (d.path || d.field))?.path ?? details[0]?.field ?? null;
  return details.field ?? details.path ?? details.header ?? null;
}

let token = null;
let refreshTimer = null;
const listeners = new Set();

/** The signed-in user ({ email, role, tenant, actions, platform }), or null. */
export let session = null;

export function can(action) {
  return Boolean(session && (session.actions.has(action) || session.actions.has("*")));
}

/** Calls fn(session) whenever the user signs in or out. */
export function onSession(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

async function adopt(answer) {
  token = answer.access_token;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh().catch(() => {}), answer.expires_in * 1000 * REFRESH_MARGIN);
  const me = await api("/v1/me");
  session = { ...me, actions: new Set(me.actions) };
  for (const fn of listeners) fn(session);
  return session;
}

function forget() {
  token = null;
  session = null;
  clearTimeout(refreshTimer);
  for (const fn of listeners) fn(null);
}

export async function signIn(email, password) {
  const answer = await request("/v1/auth/token", { method: "POST", body: { email, password, session: true } }, false);
  return adopt(answer);
}

let refreshing = null;

/** A new access token from the refresh cookie; null (and signed out) when there is none. */
export function refresh() {
  refreshing ??= (async () => {
    try {
      return await adopt(await request("/v1/auth/refresh", { method: "POST" }, false));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        forget();
        return null;
      }
      throw err;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export async function signOut() {
  try {
    await request("/v1/auth/logout", { method: "POST" }, false);
  } finally {
    forget();
  }
}

async function request(path, { method = "GET", body, headers = {}, signal, idempotencyKey } = {}, retry = true) {
  const sent = { accept: "application/json", ...headers };
  if (token) sent.authorization = `Bearer ${token}`;
  if (body !== undefined) sent["content-type"] = "application/json";
  if (idempotencyKey) sent["idempotency-key"] = idempotencyKey;
  const response = await fetch(path, {
    method, headers: sent, signal, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && retry && token && (await refresh())) {
    return request(path, { method, body, headers, signal, idempotencyKey }, false);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { error: { type: "bad_response", message: text.slice(0, 200) } };
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401 && retry) forget();
    throw error;
  }
  return parsed;
}

/** JSON in and out. Throws ApiError (with .status, .type, .message, .details, .field). */
export function api(path, options = {}) {
  return request(path, options);
}

/** Server-sent events from `path`: yields { event, data (parsed JSON when it is JSON), id }. A JSON
 * error answer (the call was refused before streaming) throws ApiError. */
export async function* stream(path, { method = "GET", body, signal } = {}) {
  const open = () => fetch(path, {
    method, signal, credentials: "same-origin",
    headers: {
      accept: "text/event-stream",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let response = await open();
  if (response.status === 401 && token && (await refresh())) response = await open();
  if (!(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    const text = await response.text();
    let parsed = null;
    try { parsed = JSON.parse(text); } catch { parsed = null; }
    throw new ApiError(response.status, parsed);
  }
  for await (const event of parseEvents(textChunks(response.body))) {
    let data = event.data;
    try { data = JSON.parse(event.data); } catch { /* plain text */ }
    yield { event: event.event, data, id: event.id };
  }
}
