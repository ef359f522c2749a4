// Example 5: a flow that waits for a person. OpenAI drafts, Anthropic critiques, then the run
// waits (holding no worker) until someone approves refining the draft with that critique;
// OpenAI refines only then. On a terminal the program asks you; otherwise APPROVAL_DECISION
// (approve or reject, default approve) and APPROVAL_NOTE decide.
// Run: node --import tsx examples/05-approval.ts
import { createInterface } from "node:readline/promises";
import {
  createCritiqueFlow,
  FlowExecutionError,
  type ApprovalDecision,
  type FlowDefinitionInput,
  type FlowStreamUpdateOf,
} from "@ensemble/sdk";
import { clientFromEnv, main } from "./ensemble-from-env.js";

const client = clientFromEnv();

/** The critique template with an approval step between the critique and the refinement. */
function reviewedCritiqueFlow(): FlowDefinitionInput {
  const flow = createCritiqueFlow();
  const [generate, critique, refine] = flow.steps as [object, object, { prompt: string }];
  const review = {
    kind: "approval" as const,
    id: "review",
    prompt:
      "Draft:\n{{ steps.generate.output }}\n\nCritique:\n{{ steps.critique.output }}\n\nRefine the draft with this critique?",
    timeout: 10 * 60_000, // ten minutes, then onTimeout decides
    onTimeout: "reject" as const,
    // What the approver may send along: a note for the refiner.
    responseSchema: {
      type: "object",
      properties: { note: { type: "string", maxLength: 500 } },
      additionalProperties: false,
    },
  };
  const refineWithNote = {
    ...refine,
    prompt: `${refine.prompt}\n\nThe reviewer's decision, as JSON (follow its note if there is one):\n{{ steps.review.output }}`,
  };
  return {
    ...flow,
    name: "Reviewed critique",
    steps: [generate, critique, review, refineWithNote],
  } as FlowDefinitionInput;
}

/** Asks on a terminal; reads APPROVAL_DECISION and APPROVAL_NOTE otherwise. */
async function askPerson(prompt: string): Promise<{ decision: ApprovalDecision; note: string }> {
  console.log(`\n--- waiting for your decision ---\n${prompt}\n---------------------------------`);
  if (!process.stdin.isTTY) {
    const decision = process.env.APPROVAL_DECISION === "reject" ? "reject" : "approve";
    return { decision, note: process.env.APPROVAL_NOTE ?? "" };
  }
  const terminal = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await terminal.question("Approve? [y/N] ");
  const note = await terminal.question("A note for the refiner (optional): ");
  terminal.close();
  return { decision: /^y(es)?$/i.test(answer.trim()) ? "approve" : "reject", note: note.trim() };
}

main(async () => {
  const thread = await client.createThread("Example 5: approval");
  const flow = await client.createFlow(thread.id, reviewedCritiqueFlow());
  console.log(`Running "${flow.name}" (${flow.steps.map((s) => s.id).join(" → ")})`);

  let decided: Promise<void> = Promise.resolve();
  const onWaiting = (update: FlowStreamUpdateOf<"step_waiting">): void => {
    decided = (async () => {
      console.log(`Step "${update.stepId}" waits until ${update.data.expiresAt}`);
      const { decision, note } = await askPerson(update.data.prompt);
      const output = await client.approve(flow.id, update.stepId ?? "review", {
        decision,
        ...(note ? { data: { note } } : {}),
      });
      console.log(`Decision sent: ${output.decision}${note ? ` (note: ${note})` : ""}`);
    })();
  };

  try {
    const result = await client.executeFlow(flow.id, {
      input: "Write a JavaScript function that returns the average of an array of numbers.",
      onUpdate: (update) => {
        if (update.type === "step_waiting") onWaiting(update);
        else if (update.type === "step_complete") console.log(`[${update.stepId}] done`);
      },
    });
    await decided;
    console.log(`\nRefined answer:\n${result.finalOutput}`);
  } catch (error) {
    await decided;
    // A reject nothing handles ends the run `failed` with code `rejected`; the results so far are kept.
    if (!(error instanceof FlowExecutionError) || error.result.error?.code !== "rejected") throw error;
    const draft = error.result.steps.find((s) => s.stepId === "generate")?.output;
    console.log(`\nRejected: the run stopped before refining. The draft stays as it was:\n${draft}`);
  }
});
