import { targetForAttempt } from "@ensemble/core";
import { findFlow } from "@ensemble/db";
import type { JobPayload } from "@ensemble/queue";
import type { RunDeps } from "../engine-deps.js";

/**
 * The provider and model a step job's attempt calls, for a job that does not say (queued on
 * the plain `steps` queue by a release before worker pools): read from its flow's definition.
 * Null when the flow is gone (the job has nothing left to do).
 */
export async function legacyStepTarget(
  deps: Pick<RunDeps, "db" | "flows">,
  payload: JobPayload<"step.run">,
): Promise<{ provider: string; model: string } | null> {
  if (payload.provider && payload.model) return { provider: payload.provider, model: payload.model };
  const flow = await findFlow(deps.db, payload.flowId);
  if (!flow) return null;
  const step = deps.flows.forRun(flow).byId.get(payload.stepId);
  return step ? targetForAttempt(step, payload.attempt) : null;
}
