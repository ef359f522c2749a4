// Example 3: conditional expert routing — OpenAI classifies the request, and only the
// matching expert runs. Conditions are CEL expressions over the
// previous step's output. Run: node --import tsx examples/03-conditional-routing.ts
import { OrchestrationFlowType, StepAction, type FlowDefinitionInput } from "@ensemble/sdk";
import { clientFromEnv, main } from "./ensemble-from-env.js";

const client = clientFromEnv();

const smartRouting: FlowDefinitionInput = {
  name: "Smart Expert Routing",
  type: OrchestrationFlowType.CONDITIONAL,
  steps: [
    {
      id: "classify",
      provider: "openai",
      model: "gpt-4",
      action: StepAction.ANALYZE,
      prompt: "Classify this as TECHNICAL/CREATIVE/ANALYTICAL: {{ original }}",
    },
    {
      id: "technical_expert",
      provider: "openai",
      model: "gpt-4",
      action: StepAction.GENERATE,
      prompt: "original",
      condition: 'previous.contains("TECHNICAL")',
      settings: { temperature: 0.3 },
    },
    {
      id: "creative_expert",
      provider: "anthropic",
      model: "claude-3-opus",
      action: StepAction.GENERATE,
      prompt: "original",
      condition: 'previous.contains("CREATIVE")',
      settings: { temperature: 0.8 },
    },
  ],
};

const REQUEST = process.argv[2] ?? "How do I find out why my PostgreSQL autovacuum is not keeping up?";

main(async () => {
  const thread = await client.createThread("Example 3: expert routing");
  const flow = await client.createFlow(thread.id, smartRouting);
  console.log(`Request: ${REQUEST}`);

  const result = await client.executeFlow(flow.id, { input: REQUEST });
  const classification = result.steps.find((s) => s.stepId === "classify")?.output ?? "";
  console.log(`Classified as: ${classification.trim()}`);
  for (const step of result.steps.filter((s) => s.stepId !== "classify")) {
    console.log(
      `${step.stepId}: ${step.status}${step.status === "success" ? ` (${step.provider}/${step.model})` : ""}`,
    );
  }
  console.log(`\nAnswer: ${result.finalOutput}`);
});
