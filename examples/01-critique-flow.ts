// Example 1: a simple critique flow — OpenAI drafts, Anthropic critiques, OpenAI refines —
// executed with streaming updates. Run: node --import tsx examples/01-critique-flow.ts
import { createCritiqueFlow } from "@ensemble/sdk";
import { clientFromEnv, describeData, main } from "./ensemble-from-env.js";

const client = clientFromEnv();

const CODE = `function average(values) {
  let sum = 0;
  for (let i = 0; i <= values.length; i++) sum += values[i];
  return sum / values.length;
}`;

async function critiqueMyCode(threadId: string): Promise<void> {
  // Create flow (the user is the API key's; no userId argument is needed)
  const flowDef = createCritiqueFlow();
  const flow = await client.createFlow(threadId, flowDef);

  // Execute with streaming
  const result = await client.executeFlow(flow.id, {
    input: `Review this JavaScript function and return a corrected version:\n\n${CODE}`,
    streaming: true,
    onUpdate: (update) => {
      console.log(`[${update.type}] ${update.stepId ?? "flow"}: ${describeData(update.data)}`);
    },
  });

  console.log("Final refined code:", result.finalOutput);
  console.log("Total cost:", `$${result.totalCost.toFixed(4)}`);
}

main(async () => {
  const thread = await client.createThread("Example 1: critique my code");
  await critiqueMyCode(thread.id);
});
