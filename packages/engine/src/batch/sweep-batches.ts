import { createStepBatch, listBatchedStepsPastDeadline, listBatchesDue, listUnbatchedGroups } from "@ensemble/db";
import type { RunDeps } from "../engine-deps.js";
import { emptyEffects, performEffects } from "../run/run-effects.js";
import { batchesToSubmit } from "./batch-trigger.js";
import { fallBackToSync } from "./fall-back.js";

/**
 * The scheduler's part of batch delivery, in every `flow.sweep`: batched steps past their
 * deadline (less their timeout) are called at once; each provider and model's waiting steps
 * become batches on the size or age trigger (recorded `submitting`); the batches get their
 * submit and poll jobs, which run on a worker serving the provider (its keys live there).
 */
export async function sweepBatches(
  deps: RunDeps,
): Promise<{ fellBack: number; created: number; submits: number; polls: number }> {
  const { batchMaxSize, batchMaxAgeMs, batchPollMs } = deps.settings;
  const fellBack = await fallBackToSync(deps, await listBatchedStepsPastDeadline(deps.db), "deadline");

  const effects = emptyEffects();
  let created = 0;
  for (const group of await listUnbatchedGroups(deps.db)) {
    const count = batchesToSubmit(group, { maxSize: batchMaxSize, maxAgeMs: batchMaxAgeMs });
    for (let i = 0; i < count; i++) {
      const batch = await deps.transact((tx) =>
        createStepBatch(tx, { provider: group.provider, model: group.model, maxSize: batchMaxSize }),
      );
      if (!batch) break;
      created += 1;
      effects.jobs.push({ name: "batch.submit", payload: { batchId: batch.id, provider: batch.provider } });
    }
  }

  // A submit not recorded after a sweep period (its job lost, or failed for good) is sent again;
  // polls are named by the poll period, so one is queued per period.
  const period = Math.floor(Date.now() / batchPollMs);
  let submits = 0;
  let polls = 0;
  for (const batch of await listBatchesDue(deps.db, {
    pollEveryMs: batchPollMs,
    resubmitAfterMs: deps.settings.staleStepMs,
  })) {
    const payload = { batchId: batch.id, provider: batch.provider, label: `${batch.provider} ${batch.model}` };
    if (batch.state === "submitting") {
      submits += 1;
      effects.jobs.push({ name: "batch.submit", payload, dedupe: `sweep-${period}` });
    } else {
      polls += 1;
      effects.jobs.push({ name: "batch.poll", payload, dedupe: String(period) });
    }
  }
  if (effects.jobs.length > 0) await performEffects(deps, effects);
  return { fellBack, created, submits, polls };
}
