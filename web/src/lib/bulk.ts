// Runs one request per selected agent, a few at a time, and reports how many succeeded and the first error.
export interface BulkResult {
  ok: number;
  failed: number;
  firstError: unknown;
}

export async function forEachLimited<T>(
  items: T[],
  action: (item: T) => Promise<unknown>,
  concurrency = 8,
): Promise<BulkResult> {
  const result: BulkResult = { ok: 0, failed: 0, firstError: null };
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await action(item);
        result.ok += 1;
      } catch (error) {
        result.failed += 1;
        result.firstError ??= error;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return result;
}
