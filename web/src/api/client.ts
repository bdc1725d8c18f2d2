// The typed API client: openapi-fetch over the generated `paths`, with the console's session rules —
// the CSRF token on every change, problem+json turned into an ApiError, and 401 sending the user to login.
import createClient, { type Middleware } from "openapi-fetch";

import type { paths } from "./schema";

const CSRF_KEY = "borealis.csrf";

export function setCsrf(token: string | null): void {
  if (token) localStorage.setItem(CSRF_KEY, token);
  else localStorage.removeItem(CSRF_KEY);
}

export function csrf(): string | null {
  return localStorage.getItem(CSRF_KEY);
}

export interface FieldError {
  field: string;
  message: string;
}

/** An API error in words: the problem+json `detail`, and the per-field errors when the server sent them. */
export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly fields: FieldError[];

  constructor(status: number, title: string, detail: string, fields: FieldError[] = []) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
    this.fields = fields;
  }
}

export function apiErrorFrom(status: number, body: unknown): ApiError {
  if (body && typeof body === "object") {
    const problem = body as { title?: unknown; detail?: unknown; errors?: unknown; field?: unknown };
    const fields = Array.isArray(problem.errors)
      ? problem.errors.filter(
          (e): e is FieldError => typeof e?.field === "string" && typeof e?.message === "string",
        )
      : [];
    // A 4xx raised by the server's own checks names its one field at the top level.
    if (typeof problem.field === "string") fields.push({ field: problem.field, message: String(problem.detail ?? "") });
    return new ApiError(status, String(problem.title ?? ""), String(problem.detail ?? ""), fields);
  }
  return new ApiError(status, `HTTP ${status}`, typeof body === "string" ? body : "");
}

type Listener = () => void;
const unauthenticatedListeners = new Set<Listener>();

/** Called when the server answers 401 to a signed-in console: the session expired or was closed. */
export function onUnauthenticated(listener: Listener): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

const session: Middleware = {
  onRequest({ request }) {
    const token = csrf();
    if (token && !["GET", "HEAD", "OPTIONS"].includes(request.method)) {
      request.headers.set("X-CSRF-Token", token);
    }
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401 && !request.url.endsWith("/api/v1/auth/login")) {
      unauthenticatedListeners.forEach((listener) => listener());
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(session);

/** The data of an openapi-fetch result, or the ApiError its problem body describes. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    throw apiErrorFrom(result.response.status, result.error);
  }
  return result.data as T;
}
