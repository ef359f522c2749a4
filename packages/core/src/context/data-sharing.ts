import type { ConversationMessage } from "../schema/results.js";
import type { CompiledFlow, CompiledStep } from "../validation/compiled-flow.js";
import type { StepRecord } from "../planner/step-record.js";
import { createRunState } from "../planner/step-record.js";
import { buildStepMessages, type StepMessages } from "./build-step-messages.js";
import type { TokenCounter } from "./tokenizer.js";

/** The two settings of a user's data-sharing policy for one provider that decide what may be sent. */
export interface DataSharingRule {
  providerKey: string;
  allowConversationHistory: boolean;
  allowCrossProviderContext: boolean;
}

/**
 * The rules that apply when several users' policies do — the thread's owner (whose
 * history and flows a run reads) and the user who executes it: per provider, a setting
 * is on only if every user who has a rule for that provider allows it. A user with no
 * rule for a provider adds no restriction, so the strictest rule wins.
 */
export function strictestRules(rules: readonly DataSharingRule[]): DataSharingRule[] {
  const byProvider = new Map<string, DataSharingRule>();
  for (const rule of rules) {
    const seen = byProvider.get(rule.providerKey);
    byProvider.set(rule.providerKey, {
      providerKey: rule.providerKey,
      allowConversationHistory: rule.allowConversationHistory && (seen?.allowConversationHistory ?? true),
      allowCrossProviderContext: rule.allowCrossProviderContext && (seen?.allowCrossProviderContext ?? true),
    });
  }
  return [...byProvider.values()].sort((a, b) => a.providerKey.localeCompare(b.providerKey));
}

/**
 * The thread history `provider` may be sent: none when its rule has
 * `allowConversationHistory` off; without `allowCrossProviderContext`, none of the
 * messages another provider wrote (a saved step output is another provider's output
 * whether it comes from this run or from the thread). Messages no provider wrote stay.
 */
export function shareableHistory(
  history: readonly ConversationMessage[],
  provider: string,
  rules: readonly DataSharingRule[],
): ConversationMessage[] {
  const rule = rules.find((r) => r.providerKey === provider);
  if (!rule) return [...history];
  if (!rule.allowConversationHistory) return [];
  return rule.allowCrossProviderContext
    ? [...history]
    : history.filter((m) => m.provider === undefined || m.provider === provider);
}

export interface PolicyViolation {
  /** Where in the definition: `steps[1]` or `steps[1].fallbacks[0]`. */
  path: string;
  stepId: string;
  provider: string;
  setting: "allowConversationHistory" | "allowCrossProviderContext";
  message: string;
}

/**
 * Whether one request may go to `provider`. Another provider's step output needs
 * `allowCrossProviderContext`; a prompt that places `{{ history }}` itself needs
 * `allowConversationHistory` (history shared by the context policy alone is left out
 * instead). A provider with no rule is unrestricted.
 */
export function requestViolation(
  request: Pick<StepMessages, "sources">,
  step: CompiledStep,
  provider: string,
  rules: readonly DataSharingRule[],
): Omit<PolicyViolation, "path"> | null {
  const rule = rules.find((r) => r.providerKey === provider);
  if (!rule) return null;
  const placesHistory = step.prompt.kind === "template" && step.prompt.references.history;
  if (placesHistory && !rule.allowConversationHistory) {
    return {
      stepId: step.id,
      provider,
      setting: "allowConversationHistory",
      message: `step "${step.id}" places {{ history }} in its prompt, and the data-sharing policy for ${provider} has allowConversationHistory off`,
    };
  }
  const foreign = request.sources.filter((s) => s.provider !== provider);
  if (foreign.length > 0 && !rule.allowCrossProviderContext) {
    const from = [...new Set(foreign.map((s) => `${s.stepId} (${s.provider})`))].join(", ");
    return {
      stepId: step.id,
      provider,
      setting: "allowCrossProviderContext",
      message: `step "${step.id}" would send ${provider} the output of ${from}, and the data-sharing policy for ${provider} has allowCrossProviderContext off`,
    };
  }
  return null;
}

/**
 * The check runs in the API, on placeholder outputs: it must not trim them (a trimmed
 * one would hide its source from the check) nor load the tokenizer there (~1 s once).
 */
const untrimmed: TokenCounter = { count: () => 0, keepLast: (text) => text };

/**
 * What can be known before a run: for every step and each of its fallbacks, the
 * request it would build if every step ran and each primary provider answered.
 * (Which provider answers is decided at run time; the worker checks each request again.)
 */
export function findPolicyViolations(flow: CompiledFlow, rules: readonly DataSharingRule[]): PolicyViolation[] {
  if (rules.length === 0) return [];
  const records: StepRecord[] = flow.steps.flatMap((s) =>
    (s.inLoop ? [1, 2] : [0]).map((iteration) => ({
      stepId: s.id,
      iteration,
      attempt: 0,
      status: "success" as const,
      output: "·",
    })),
  );
  const state = createRunState(flow, records, { originalPrompt: "·" });
  const violations: PolicyViolation[] = [];
  for (const step of flow.steps) {
    const requests = (step.inLoop ? [1, 2] : [0]).map((iteration) =>
      buildStepMessages(state, step.id, iteration, { hookPrompt: "", tokenCounter: untrimmed }),
    );
    step.targets.forEach((target, t) => {
      for (const request of requests) {
        const found = requestViolation(request, step, target.provider, rules);
        if (!found) continue;
        violations.push({ path: `steps[${step.index}]${t === 0 ? "" : `.fallbacks[${t - 1}]`}`, ...found });
        return;
      }
    });
  }
  return violations;
}
