// Field errors for forms: the form's own checks first, then the server's, matched to a field by name.
import { ApiError } from "../api/client";

/** The server's message for FIELD (or one of its sub-fields, such as `params.script` for `params`). */
export function serverFieldError(error: unknown, ...fields: string[]): string | null {
  if (!(error instanceof ApiError)) return null;
  for (const entry of error.fields) {
    if (fields.some((f) => entry.field === f || entry.field.startsWith(`${f}.`))) return entry.message;
  }
  return null;
}

export type Checks<K extends string> = Partial<Record<K, string | null>>;

/** Only the failing checks; an empty object means the form may be sent. */
export function failing<K extends string>(checks: Checks<K>): Checks<K> {
  const out: Checks<K> = {};
  for (const key of Object.keys(checks) as K[]) if (checks[key]) out[key] = checks[key];
  return out;
}

/** NAME=value lines into an object; the first bad line is reported. */
export function parseEnv(text: string): { env: Record<string, string>; error: string | null } {
  const env: Record<string, string> = {};
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  for (const line of lines) {
    const at = line.indexOf("=");
    const name = at > 0 ? line.slice(0, at) : "";
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return { env, error: `"${line}" is not NAME=value` };
    env[name] = line.slice(at + 1);
  }
  return { env, error: null };
}
