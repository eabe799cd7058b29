// REST client: token storage, fetch wrapper and error-message extraction.

const TOKEN_KEY = "kadath.token";

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled (private mode, sandboxed iframe…)
  }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage unavailable: the session simply won't survive a reload */
  }
}

/** An HTTP failure with a human-readable message. status 0 = network failure. */
export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

// Called when an authenticated request comes back 401 (token expired or revoked).
let unauthorizedHandler = null;
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/** Turn a pydantic `loc` like ["body", "stats", "strength"] into "stats.strength". */
function fieldName(loc) {
  if (!Array.isArray(loc)) return "";
  return loc.filter((p) => p !== "body" && p !== "query" && p !== "path").join(".");
}

/**
 * Extract a message from an error body. FastAPI sends {"detail": "text"} for
 * HTTPException and {"detail": [{"loc", "msg", ...}]} for validation errors (422).
 */
export function errorMessage(body, fallback) {
  const detail = body && typeof body === "object" ? body.detail : null;
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    const lines = detail.map((d) => {
      if (typeof d === "string") return d;
      let msg = String(d?.msg ?? "Invalid value").replace(/^Value error, /, "");
      const field = fieldName(d?.loc);
      return field ? `${field}: ${msg}` : msg;
    });
    return lines.join("\n");
  }
  if (typeof body === "string" && body.trim() && body.length < 300) return body.trim();
  return fallback;
}

/**
 * Perform a request against the API.
 *   options.json  – object sent as application/json
 *   options.form  – object sent as application/x-www-form-urlencoded
 *   options.auth  – attach the bearer token (default true)
 * Resolves to the parsed body (null for 204); rejects with ApiError.
 */
export async function request(path, { method = "GET", json, form, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(form).toString();
  }
  const token = auth ? getToken() : null;
  if (token) headers.Authorization = `Bearer ${token}`;

  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
  }

  let data = null;
  if (response.status !== 204) {
    const type = response.headers.get("Content-Type") || "";
    try {
      data = type.includes("json") ? await response.json() : await response.text();
    } catch {
      data = null;
    }
  }

  if (!response.ok) {
    if (response.status === 401 && auth && token && unauthorizedHandler) unauthorizedHandler();
    const fallback =
      response.status >= 500
        ? "The server stumbled. Try again in a moment."
        : `Request failed (${response.status}).`;
    throw new ApiError(response.status, errorMessage(data, fallback), data);
  }
  return data;
}

// ---- Endpoints -----------------------------------------------------------

export const api = {
  register: (username, password, inviteCode) =>
    request("/api/auth/register", {
      method: "POST",
      auth: false,
      json: { username, password, invite_code: inviteCode || null },
    }),

  login: (username, password) =>
    request("/api/auth/login", { method: "POST", auth: false, form: { username, password } }),

  me: () => request("/api/auth/me"),

  players: () => request("/api/players"),

  professions: () => request("/api/professions"),

  createPlayer: (payload) => request("/api/players", { method: "POST", json: payload }),

  deletePlayer: (id) => request(`/api/players/${encodeURIComponent(id)}`, { method: "DELETE" }),
};
