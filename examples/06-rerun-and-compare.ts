// Example 6: rerun a critique with another model and put the two runs side by side.
// The draft is reused (no second call, no cost); the critique and the refinement run again.
// Run: node --import tsx examples/06-rerun-and-compare.ts
import { createCritiqueFlow, type RunComparison } from "@ensemble/sdk";
import { clientFromEnv, main } from "./ensemble-from-env.js";

const client = clientFromEnv();

/** The critic of the rerun: Google's model instead of the template's Anthropic one. */
const OTHER_CRITIC = { provider: "google", model: "gemini-2.5-pro" };

/** A diff as text: removed words in [-…-], added ones in {+…+}. */
function diffText(diff: RunComparison["steps"][number]["diff"]): string {
  return diff
    .map((d) => (d.kind === "removed" ? `[-${d.text}-]` : d.kind === "added" ? `{+${d.text}+}` : d.text))
    .join("");
}

main(async () => {
  const thread = await client.createThread("Example 6: rerun and compare");
  const flow = await client.createFlow(thread.id, createCritiqueFlow());
  await client.executeFlow(flow.id, { input: "Explain what a vector clock is in three sentences." });

  const rerun = await client.rerun(flow.id, 1, { fromStep: "critique", overrides: { critique: OTHER_CRITIC } });
  const reused = rerun.steps.filter((s) => s.reusedFrom !== undefined).map((s) => s.stepId);
  console.log(`Run ${rerun.run} reran run 1 from "critique" with ${OTHER_CRITIC.provider}/${OTHER_CRITIC.model}`);
  console.log(`Reused from run 1: ${reused.join(", ") || "none"}`);

  const comparison = await client.compare(flow.id, 1, rerun.run);
  for (const step of comparison.steps) {
    console.log(`\n== ${step.stepId}`);
    step.results.forEach((result, i) => {
      if (!result) return;
      const reuse = result.reusedFrom !== null ? `, reused from run ${result.reusedFrom}` : "";
      console.log(
        `run ${comparison.runs[i]}: ${result.provider}/${result.model}, ${result.tokens} tokens, $${(result.cost ?? 0).toFixed(4)}, ${result.latencyMs ?? 0} ms${reuse}`,
      );
    });
    console.log(`diff: ${diffText(step.diff)}`);
  }
  console.log("\n== totals");
  for (const total of comparison.totals)
    console.log(`run ${total.run}: ${total.status}, ${total.totalTokens} tokens, $${total.totalCost.toFixed(4)}`);
});
