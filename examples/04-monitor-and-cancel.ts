// Example 4: monitoring and cancellation — execute a flow, poll its status while it runs,
// and cancel it if it takes too long. POLL_INTERVAL_MS (default 2000) and CANCEL_AFTER_MS
// (default 60000, a minute) tune it. Run: node --import tsx examples/04-monitor-and-cancel.ts
import {
  createSequentialAnalysisFlow,
  FlowExecutionError,
  isEnsembleApiError,
  type FlowExecutionResult,
} from "@ensemble/sdk";
import { clientFromEnv, main } from "./ensemble-from-env.js";

const client = clientFromEnv();
const POLL_INTERVAL_MS = Number(process.env.POLL_INTERVAL_MS ?? 2_000);
const CANCEL_AFTER_MS = Number(process.env.CANCEL_AFTER_MS ?? 60_000);

async function monitorFlow(flowId: string): Promise<FlowExecutionResult> {
  // Start execution
  const executionPromise = client.executeFlow(flowId, {
    input: "Our new cache cut p99 latency from 800 ms to 90 ms, so it will also halve our database bill.",
  });

  // Monitor progress
  const interval = setInterval(() => {
    void (async () => {
      const status = await client.getFlowStatus(flowId);
      console.log(
        `Progress: ${status.progress.toFixed(1)}% (${status.completedSteps}/${status.totalSteps} steps, ${status.status})`,
      );

      // Cancel if taking too long
      if (status.startedAt) {
        const elapsed = Date.now() - Date.parse(status.startedAt);
        if (elapsed > CANCEL_AFTER_MS) {
          clearInterval(interval);
          console.log(`Still running after ${(elapsed / 1000).toFixed(1)} s: cancelling`);
          await client.cancelFlow(flowId).catch((error: unknown) => {
            // It finished in the meantime: nothing to cancel.
            if (!isEnsembleApiError(error, "conflict")) throw error;
          });
        }
      }
    })().catch((error: unknown) => console.error("status check failed:", error));
  }, POLL_INTERVAL_MS);

  try {
    const result = await executionPromise;
    clearInterval(interval);
    return result;
  } catch (error) {
    clearInterval(interval);
    throw error;
  }
}

main(async () => {
  const thread = await client.createThread("Example 4: monitor and cancel");
  const flow = await client.createFlow(thread.id, createSequentialAnalysisFlow());
  console.log(`Running "${flow.name}" (${flow.steps.map((s) => s.id).join(" → ")})`);
  try {
    const result = await monitorFlow(flow.id);
    console.log(
      `Flow ${result.status} in ${((Date.parse(result.completedAt ?? "") - Date.parse(result.startedAt ?? "")) / 1000).toFixed(1)} s`,
    );
    console.log(`Assessment: ${result.finalOutput}`);
  } catch (error) {
    if (!(error instanceof FlowExecutionError) || error.status !== "cancelled") throw error;
    // Partial results are kept: what finished before the cancel.
    const done = error.result.steps.filter((s) => s.status === "success").map((s) => s.stepId);
    console.log(`Flow cancelled; steps finished before the cancel: ${done.length > 0 ? done.join(", ") : "none"}`);
  }
});
