import { listLedger, listMessages, listRunSteps, type Database } from "@ensemble/db";
import { ApiClient, simStep, type FlowEventBody } from "./api-client.js";
import type { Cluster } from "./cluster-harness.js";

/** The steps of every flow a fault test runs: a sequential run of slow sim calls. */
export const LOAD_STEPS = ["a", "b", "c"];

/** Creates `count` flows of LOAD_STEPS (each call takes `latencyMs`) and executes them all; returns their ids. */
export async function startLoad(api: ApiClient, threadId: string, count: number, latencyMs: number): Promise<string[]> {
  const ids = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      api.createFlow(threadId, {
        name: `load ${i}`,
        type: "sequential",
        steps: LOAD_STEPS.map((id) => simStep(id, { model: `slow?latencyMs=${latencyMs}` })),
      }),
    ),
  );
  const answers = await Promise.all(ids.map((id) => api.execute(id, { input: "q", saveMessages: true })));
  for (const answer of answers) expect(answer.status).toBe(202);
  return ids;
}

/** Polls until every flow is `completed`; returns how long that took (ms). */
export async function waitAllCompleted(api: ApiClient, flowIds: string[], timeoutMs: number): Promise<number> {
  const started = Date.now();
  const pending = new Set(flowIds);
  while (pending.size > 0) {
    if (Date.now() - started > timeoutMs) {
      // What a stuck flow looks like is what whoever reads the failure needs first.
      const stuck = await Promise.all(
        [...pending].slice(0, 3).map(async (id) => {
          const flow = await api.flow(id);
          return `${id} ${flow.status} [${flow.stepResults.map((s) => `${s.stepId}:${s.status}`).join(" ")}]`;
        }),
      );
      throw new Error(`${pending.size} flows not completed after ${timeoutMs} ms, e.g. ${stuck.join("; ")}`);
    }
    for (const id of [...pending]) {
      const status = (await api.status(id)).status;
      if (status === "completed") pending.delete(id);
      else if (status === "failed" || status === "cancelled" || status === "timed_out")
        throw new Error(`flow ${id} ended ${String(status)}`);
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
  }
  return Date.now() - started;
}

export interface ExactlyOnceOptions {
  /** Also require that no step was taken over (every lease token 1: claimed or continued once). */
  noTakeover?: boolean;
}

/**
 * What a user sees after a fault: each flow's steps succeeded once, one ledger row and one
 * thread message per step, and an event history with one start, each step's completion
 * once, and one `flow_complete`, ids 1…n without a gap.
 */
export async function expectExactlyOnce(
  cluster: Cluster,
  api: ApiClient,
  threadId: string,
  flowIds: string[],
  options: ExactlyOnceOptions = {},
): Promise<{ takenOver: number }> {
  const db: Database = cluster.database!.handle.db;
  const messages = await listMessages(db, threadId);
  let takenOver = 0;
  for (const flowId of flowIds) {
    const rows = await listRunSteps(db, flowId, 1);
    expect(rows.map((r) => [r.stepId, r.status])).toEqual(LOAD_STEPS.map((id) => [id, "success"]));
    takenOver += rows.filter((r) => (r.leaseToken ?? 0) > 1).length;
    const ledger = await listLedger(db, flowId);
    expect(ledger.map((l) => l.stepResultId).sort()).toEqual(rows.map((r) => r.id).sort());
    const saved = messages.filter((m) => m.metadata.orchestrationFlowId === flowId);
    expect(saved.map((m) => m.metadata.stepId).sort()).toEqual([...LOAD_STEPS].sort());

    const events = await api.eventHistory(flowId);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.type === "flow_start")).toHaveLength(1);
    expect(events.filter((e) => e.type === "step_complete").map((e) => e.stepId)).toEqual(LOAD_STEPS);
    expect(events.filter((e) => e.type === "flow_complete")).toHaveLength(1);
  }
  if (options.noTakeover) expect(takenOver).toBe(0);
  return { takenOver };
}

/**
 * What a user replaying a flow's events after Redis lost them sees: its durable events
 * complete, in order and once — one `flow_start` first, each step's `step_complete` once in
 * `steps` order (an array in `steps`: those steps in any order, e.g. parallel ones), one
 * `flow_complete` last — with ids increasing. Ids may jump where Redis lost numbered events
 * (and best-effort `step_start`/`step_progress` events may be missing there). Polls: the
 * relay restores a flow's events a few seconds after it was wiped.
 */
export async function expectDurableHistories(
  api: ApiClient,
  flowIds: string[],
  steps: (string | string[])[],
  timeoutMs = 30_000,
): Promise<void> {
  const groups = [
    ["flow_start"],
    ...steps.map((s) => [s].flat().map((id) => `step_complete:${id}`)),
    ["flow_complete"],
  ];
  const want = groups.flatMap((g) => [...g].sort());
  const durable = (events: FlowEventBody[]) =>
    events
      .filter((e) => e.type !== "step_start" && e.type !== "step_progress")
      .map((e) => (e.stepId ? `${e.type}:${e.stepId}` : e.type));
  // Sorted within each group of steps that may end in any order.
  const normalized = (seen: string[]) => {
    const out: string[] = [];
    let at = 0;
    for (const g of groups) {
      out.push(...seen.slice(at, at + g.length).sort());
      at += g.length;
    }
    return [...out, ...seen.slice(at)];
  };
  for (const flowId of flowIds) {
    let events: FlowEventBody[] = [];
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      events = await api.eventHistory(flowId);
      if (durable(events).length >= want.length) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect({ flowId, durable: normalized(durable(events)) }).toEqual({ flowId, durable: want });
    const ids = events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(events[events.length - 1]?.type).toBe("flow_complete");
  }
}

/** Fails if any process of the cluster has exited (a fault must crash none). */
export function expectAllAlive(cluster: Cluster): void {
  const dead = cluster.processes.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null);
  expect(dead.map((p) => `${p.name} exited ${p.child.exitCode ?? p.child.signalCode} (${p.logFile})`)).toEqual([]);
}
