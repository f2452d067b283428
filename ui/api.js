// The one way the page talks to the service: /api/v1 with the operator's key, kept in
// sessionStorage (gone with the tab; never a cookie, never localStorage).
const KEY = "config-service.key";
const REASON = "config-service.signed-out-because";
const ADMIN = "config-service.admin";
export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  // The errors that name a field, as {field: message}: shown next to the control.
  get fieldErrors() {
    const found = {};
    for (const error of this.problem.errors || []) {
      if (error.field) found[error.field] = error.message;
    }
    return found;
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  signIn(key, { admin = false } = {}) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(ADMIN, admin ? "1" : "");
    sessionStorage.removeItem(REASON);
  },
  // Whether the key may manage keys: found at sign-in, by asking for them.
  get admin() { return sessionStorage.getItem(ADMIN) === "1"; },
  signOut(reason) {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ADMIN);
    if (reason) sessionStorage.setItem(REASON, reason);
    else sessionStorage.removeItem(REASON);
    window.dispatchEvent(new CustomEvent("cs-session"));
  },
  get reason() { return sessionStorage.getItem(REASON); },
};

export async function request(method, path, { body, headers = {}, key = session.key } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (key) init.headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) {
    init.headers["Content-Type"] ??= "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(`${API}${path}`, init);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (response.status === 401 && key === session.key) {
    session.signOut(data?.detail || "The key was refused");
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, etag: response.headers.get("ETag"), status: response.status, next: nextPage(response) };
}

// The path (under /api/v1) of the next page a Link header names; null on the last page.
function nextPage(response) {
  const match = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get("Link") || "");
  if (!match) return null;
  const url = new URL(match[1], location.origin);
  return url.pathname.slice(API.length) + url.search;
}
