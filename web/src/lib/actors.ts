// Actor ids → names, asked of the server in batches: every id requested within a few milliseconds (a
// page's rows rendering together) goes in one `GET /api/v1/actors` of at most 100 ids.
import { api, unwrap } from "../api/client";

const BATCH = 100;
const WAIT_MS = 5;
type Waiter = { resolve: (name: string | null) => void; reject: (error: unknown) => void };
const pending = new Map<string, Waiter[]>();
let timer: ReturnType<typeof setTimeout> | null = null;

async function flush(): Promise<void> {
  timer = null;
  const batch = [...pending.entries()];
  pending.clear();
  for (let start = 0; start < batch.length; start += BATCH) {
    const part = batch.slice(start, start + BATCH);
    try {
      const found = unwrap(await api.GET("/api/v1/actors", { params: { query: { id: part.map(([id]) => id) } } }));
      const names = new Map(found.items.map((item) => [item.id, item.name ?? null]));
      for (const [id, waiters] of part) waiters.forEach((w) => w.resolve(names.get(id) ?? null));
    } catch (error) {
      for (const [, waiters] of part) waiters.forEach((w) => w.reject(error));
    }
  }
}

/** The actor's display name, or null when it is gone or not ours to know. */
export function actorName(actor: string): Promise<string | null> {
  return new Promise((resolve, reject) => {
    pending.set(actor, [...(pending.get(actor) ?? []), { resolve, reject }]);
    timer ??= setTimeout(() => void flush(), WAIT_MS);
  });
}
