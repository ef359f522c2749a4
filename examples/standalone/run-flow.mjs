// A program outside the Ensemble repo: it uses @ensemble/sdk installed from its packed
// tarball (see README.md here) to run a two-step flow and print its progress and result.
// Run: ENSEMBLE_URL=http://localhost:3000 ENSEMBLE_API_KEY=ens_... node run-flow.mjs "some input"
// @ts-check
import { EnsembleClient, FlowExecutionError, StepAction } from "@ensemble/sdk";

const apiKey = process.env.ENSEMBLE_API_KEY;
if (!apiKey) {
  console.error("Set ENSEMBLE_API_KEY (and ENSEMBLE_URL, default http://localhost:3000).");
  process.exit(2);
}
const client = new EnsembleClient({ baseUrl: process.env.ENSEMBLE_URL ?? "http://localhost:3000", apiKey });
// The simulated provider answers without a vendor key; name a real one to call it.
const provider = process.env.ENSEMBLE_PROVIDER ?? "sim";
const model = process.env.ENSEMBLE_MODEL ?? "echo";

const thread = await client.createThread("standalone example");
const flow = await client.createFlow(thread.id, {
  name: "draft then tighten",
  type: "sequential",
  steps: [
    { id: "draft", provider, model, action: StepAction.GENERATE, prompt: "Draft: {{ original }}" },
    { id: "tighten", provider, model, action: StepAction.TRANSFORM, prompt: "Tighten: {{ previous }}" },
  ],
});

try {
  const result = await client.executeFlow(flow.id, {
    input: process.argv[2] ?? "hello",
    streaming: true,
    onUpdate: (update) => {
      if (update.type !== "step_progress") console.log(`[${update.type}] ${update.stepId ?? ""}`);
    },
  });
  console.log(`output: ${result.finalOutput}`);
  console.log(`cost: $${result.totalCost.toFixed(6)}`);
} catch (error) {
  if (error instanceof FlowExecutionError) {
    console.error(`flow ${error.status}: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
