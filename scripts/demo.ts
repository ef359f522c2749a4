// `pnpm demo`: starts Ensemble all-in-one (API + scheduler + worker; embedded PGlite unless
// DATABASE_URL is set), runs a critique flow over HTTP on the offline `sim` provider,
// prints its progress and result, and stops.
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

const port = process.env.PORT ?? "3000";
const base = `http://127.0.0.1:${port}`;
const key = process.env.DEV_API_KEY ?? `ens_demo_${Math.random().toString(36).slice(2)}0000000000`;
const say = (line: string): void => console.log(line);

say(`==> starting Ensemble all-in-one on ${base} (logs: .data/demo.log)`);
const { createWriteStream, mkdirSync } = await import("node:fs");
mkdirSync(".data", { recursive: true });
const log = createWriteStream(".data/demo.log");
const server = spawn(process.execPath, ["--import", "tsx", "apps/api/src/main.ts"], {
  env: {
    ...process.env,
    ROLES: "all",
    PORT: port,
    DEV_API_KEY: key,
    DEV_MODE: "true",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
  },
  stdio: ["ignore", "pipe", "pipe"],
});
server.stdout.pipe(log);
server.stderr.pipe(log);
const stop = (): void => void server.kill("SIGTERM");
process.on("SIGINT", stop);

async function call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

try {
  for (let i = 0; ; i += 1) {
    if (server.exitCode !== null) throw new Error("the server exited; see .data/demo.log");
    const ready = await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (i > 300) throw new Error("the server did not become ready in 60 s; see .data/demo.log");
    await sleep(200);
  }
  say("==> ready; creating a thread and a critique flow (generate → critique → refine)");
  const thread = await call("POST", "/v1/threads", { title: "Ensemble demo" });
  const step = (id: string, action: string, prompt: string) => ({
    id,
    provider: "sim",
    model: "slow?latencyMs=700",
    action,
    prompt,
  });
  const flow = await call("POST", "/v1/flows", {
    threadId: thread.id,
    definition: {
      name: "Demo critique",
      type: "critique",
      steps: [
        step("generate", "generate", "Write a haiku about {{ original }}"),
        step("critique", "critique", "Critique this draft: {{ previous }}"),
        step("refine", "refine", "Improve {{ steps.generate.output }} using {{ steps.critique.output }}"),
      ],
    },
  });
  await call("POST", `/v1/flows/${String(flow.id)}/execute`, { input: "job queues", saveMessages: true });
  let last = "";
  for (;;) {
    const status = await call("GET", `/v1/flows/${String(flow.id)}/status`);
    const line = `    ${String(status.status).padEnd(10)} ${String(status.progress).padStart(5)}%  steps done ${String(status.completedSteps)}/${String(status.totalSteps)}`;
    if (line !== last) say(line);
    last = line;
    if (!["queued", "running"].includes(String(status.status))) break;
    await sleep(150);
  }
  const result = await call("GET", `/v1/flows/${String(flow.id)}`);
  say("==> result");
  for (const s of result.stepResults as { stepId: string; status: string; output: string }[])
    say(`    ${s.stepId.padEnd(9)} ${s.status.padEnd(8)} ${s.output.replace(/\s+/g, " ").slice(0, 90)}`);
  say(
    `    final output: ${String((result.result as { finalOutput: string }).finalOutput)
      .replace(/\s+/g, " ")
      .slice(0, 160)}`,
  );
  say(`==> done. Run it yourself: pnpm start, then use the API key printed at start (see README).`);
} catch (error) {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  stop();
}
