import { lockFlow, listRunSteps, updateFlow } from "@ensemble/db";
import type { EngineDeps } from "../engine-deps.js";
import { advanceRun } from "./advance-run.js";
import { emptyEffects, performEffects } from "./run-effects.js";

/** `flow.start`: the run begins — flow_start, then its first steps. Redelivery is harmless. */
export async function startRun(deps: EngineDeps, flowId: string, run: number): Promise<void> {
  const effects = emptyEffects();
  await deps.transact(async (tx) => {
    const flow = await lockFlow(tx, flowId);
    if (!flow || flow.run !== run) return;
    const compiled = deps.flows.forRun(flow);
    if (flow.status === "queued") {
      const startedAt = new Date();
      await updateFlow(tx, flow.id, { status: "running", startedAt });
      effects.events.push({ flowId, type: "flow_start", data: { run, name: flow.name, type: flow.flowType, totalSteps: compiled.steps.length } });
      flow.status = "running";
      flow.startedAt = startedAt;
    }
    if (flow.status !== "running") return;
    // Also the repair path: re-planning a running flow dispatches only what is missing.
    await advanceRun(tx, flow, compiled, await listRunSteps(tx, flow.id, run), effects, { continuing: false });
  });
  await performEffects(deps, effects);
}

/** `flow.advance`: re-plan a running flow from its stored results (repair after a crash). */
export async function advanceRunJob(deps: EngineDeps, flowId: string, run: number): Promise<void> {
  const effects = emptyEffects();
  await deps.transact(async (tx) => {
    const flow = await lockFlow(tx, flowId);
    if (!flow || flow.run !== run || flow.status !== "running") return;
    const rows = await listRunSteps(tx, flow.id, run);
    await advanceRun(tx, flow, deps.flows.forRun(flow), rows, effects, { continuing: true });
    // Open steps whose job may have been lost are enqueued again (same job ids: no duplicates).
    for (const row of rows.filter((r) => r.status === "pending")) {
      effects.jobs.push({
        name: "step.run",
        payload: { flowId, run, stepId: row.stepId, iteration: row.iteration, attempt: row.attempt, label: `${flow.name} › ${row.stepId}` },
        delayMs: row.notBefore ? Math.max(0, row.notBefore.getTime() - Date.now()) : 0,
      });
    }
  });
  await performEffects(deps, effects);
}
