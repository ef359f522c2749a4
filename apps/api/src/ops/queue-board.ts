import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import type { Queue } from "@ensemble/queue";
import type { Express } from "express";

/** Where Bull Board is served (the contract's `GET /admin/queues`). */
export const QUEUE_BOARD_PATH = "/admin/queues";

const QUEUE_DESCRIPTIONS: Record<string, string> = {
  flows: "flow jobs: start, advance, cancel, archive events, sweep (apps/scheduler)",
  steps: "step jobs queued before worker pools: workers move each to its provider's queue",
};

function describeQueue(name: string): string {
  const known = QUEUE_DESCRIPTIONS[name];
  if (known) return known;
  const provider = name.startsWith("steps-") ? name.slice("steps-".length) : undefined;
  return provider ? `${provider} step jobs: one provider call each (the workers serving ${provider})` : "";
}

/** Bull Board as an Express app, and a way to change the queues it shows (provider pools come and go). */
export interface QueueBoard {
  app: Express;
  showQueues(queues: Queue[]): void;
}

/**
 * Bull Board over Ensemble's queues. The router does no auth of its own: mount it behind
 * `requireAdmin`. Job data holds ids and a label only (the job catalog strips anything
 * else), so the board shows no prompt, output or key.
 */
export function createQueueBoard(queues: Queue[]): QueueBoard {
  const serverAdapter = new ExpressAdapter().setBasePath(QUEUE_BOARD_PATH);
  const adapterFor = (queue: Queue): BullMQAdapter => {
    const adapter = new BullMQAdapter(queue, { description: describeQueue(queue.name) });
    adapter.setFormatter("name", (job: { name?: string; data?: unknown }) => readableJobName(job.name ?? "", job.data));
    return adapter;
  };
  const { replaceQueues } = createBullBoard({
    queues: queues.map(adapterFor),
    serverAdapter,
    options: { uiConfig: { boardTitle: "Ensemble queues", hideDocsLink: true } },
  });
  // The adapter's router is an Express app of its own: it would announce itself again.
  const app = serverAdapter.getRouter() as Express;
  app.disable("x-powered-by");
  return { app, showQueues: (next) => replaceQueues(next.map(adapterFor)) };
}

/**
 * What the board shows as a job's name. BullMQ's name stays the catalog name (`step.run`:
 * workers dispatch on it); the label the engine puts in the payload says which flow and
 * step a person is looking at: "step.run · Translation Pipeline › summarize #1". Jobs
 * without a label (repairs, sweeps) show the ids they carry.
 */
export function readableJobName(name: string, data: unknown): string {
  const payload = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const text = (key: string): string | undefined =>
    typeof payload[key] === "string" && payload[key] !== "" ? payload[key] : undefined;
  const label = text("label");
  if (label) return `${name} · ${label}`;
  const flowId = text("flowId");
  if (!flowId) return name;
  const stepId = text("stepId");
  return `${name} · flow ${flowId}${stepId ? ` › ${stepId}` : ""}`;
}
