import { insertThread, insertUser } from "@ensemble/db";
import { createFlow, executeFlow, type RunDeps } from "../../src/index.js";

/** A new user's new thread's flow of `steps`, executed with `input`; its id. */
export async function executeNewFlow(
  deps: RunDeps,
  definition: { type: string; steps: Record<string, unknown>[] },
  input = "hello",
): Promise<string> {
  const user = await insertUser(deps.db, { name: "engine-test" });
  const thread = await insertThread(deps.db, { ownerId: user.id, title: "engine-test" });
  const flow = await createFlow(deps, {
    threadId: thread.id,
    userId: user.id,
    definition: { name: "engine-test", ...definition },
  });
  await executeFlow(deps, flow.id, { executedBy: user.id, input });
  return flow.id;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until it gives a value. */
export async function waitFor<T>(read: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(100);
  }
}
