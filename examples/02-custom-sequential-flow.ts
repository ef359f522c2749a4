// Example 2: a custom sequential flow — translate with OpenAI, then summarize the
// translation with Anthropic. Prompts are templates:
// {{ original }} is the execute input, {{ previous }} the step this one reads (inputFrom).
// Run: node --import tsx examples/02-custom-sequential-flow.ts
import { OrchestrationFlowType, StepAction, type FlowDefinitionInput } from "@ensemble/sdk";
import { clientFromEnv, main } from "./ensemble-from-env.js";

const client = clientFromEnv();

const translationPipeline: FlowDefinitionInput = {
  name: "Translation Pipeline",
  type: OrchestrationFlowType.SEQUENTIAL,
  steps: [
    {
      id: "translate",
      provider: "openai",
      model: "gpt-4",
      action: StepAction.TRANSFORM,
      prompt: "Translate to English: {{ original }}",
      settings: { temperature: 0.3 },
    },
    {
      id: "summarize",
      provider: "anthropic",
      model: "claude-3-opus",
      action: StepAction.SUMMARIZE,
      prompt: "Summarize: {{ previous }}",
      inputFrom: "translate",
      settings: { temperature: 0.5 },
    },
  ],
};

const TEXT =
  "Le conseil municipal a voté hier soir la création de trois nouvelles pistes cyclables. Les travaux commenceront au printemps et dureront six mois.";

main(async () => {
  const thread = await client.createThread("Example 2: translation pipeline");
  const flow = await client.createFlow(thread.id, translationPipeline);
  console.log(`Created flow "${flow.name}" (${flow.flowType}, ${flow.steps.length} steps): ${flow.id}`);

  const result = await client.executeFlow(flow.id, { input: TEXT, saveMessages: true });
  for (const step of result.steps) {
    console.log(
      `\n[${step.stepId}] ${step.provider}/${step.model} — ${step.status}, ${step.usage?.totalTokens ?? 0} tokens, $${(step.cost ?? 0).toFixed(4)}`,
    );
    console.log(step.output);
  }
  console.log(`\nSummary: ${result.finalOutput}`);
  console.log(`Total cost: $${result.totalCost.toFixed(4)} (${result.totalTokens} tokens)`);

  // saveMessages: each step's output is now a message of the thread.
  const saved = (await client.listMessages(thread.id)).filter((m) => m.metadata?.orchestrationFlowId === flow.id);
  console.log(`Saved to the thread: ${saved.length} messages (${saved.map((m) => m.metadata?.stepId).join(", ")})`);
});
