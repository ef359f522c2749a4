import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";

/** A TCP port nothing listens on now, for a spawned API process. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Waits for a spawned API process to answer /readyz (at most 60 s). */
export async function waitReady(baseUrl: string, api: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (api.exitCode !== null) throw new Error(`the API exited with ${api.exitCode}`);
    try {
      if ((await fetch(`${baseUrl}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the API was not ready in 60 s");
}

/** A user and an API key, made over the admin API as an operator would. */
export async function createApiKey(baseUrl: string, adminToken: string, name: string): Promise<string> {
  const admin = { authorization: `Bearer ${adminToken}`, "content-type": "application/json" };
  const user = (await (
    await fetch(`${baseUrl}/v1/admin/users`, { method: "POST", headers: admin, body: JSON.stringify({ name }) })
  ).json()) as { id: string };
  const key = (await (
    await fetch(`${baseUrl}/v1/admin/users/${user.id}/api-keys`, { method: "POST", headers: admin })
  ).json()) as { key: string };
  return key.key;
}
