/**
 * A vendor SDK client made on its first call, with the SDK's module loaded then: a process
 * that never calls a vendor (the API, a worker running only `sim` steps) never loads its SDK,
 * which is tens of MB of heap per vendor. A failed load is tried again on the next call.
 */
export function lazyClient<T>(make: () => Promise<T>): () => Promise<T> {
  let client: Promise<T> | undefined;
  return () =>
    (client ??= make().catch((error: unknown) => {
      client = undefined;
      throw error;
    }));
}
