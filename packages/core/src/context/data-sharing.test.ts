import { compileFlowOrThrow } from "../validation/compile-flow.js";
import { findPolicyViolations, shareableHistory, strictestRules, type DataSharingRule } from "./data-sharing.js";

const step = (id: string, provider: string, extra: Record<string, unknown> = {}) => ({
  id,
  provider,
  model: "m",
  action: "generate",
  prompt: "{{ previous }}",
  ...extra,
});
const rule = (providerKey: string, allow: Partial<DataSharingRule> = {}): DataSharingRule => ({
  providerKey,
  allowConversationHistory: true,
  allowCrossProviderContext: true,
  ...allow,
});

describe("findPolicyViolations", () => {
  const critique = compileFlowOrThrow({
    name: "c",
    type: "sequential",
    steps: [step("draft", "openai"), step("review", "anthropic", { fallbacks: [{ provider: "google", model: "g" }] })],
  });

  it("is empty without rules (no policy row = unrestricted)", () => {
    expect(findPolicyViolations(critique, [])).toEqual([]);
  });

  it("names the step, the provider and the setting when another provider's output would be sent", () => {
    expect(findPolicyViolations(critique, [rule("anthropic", { allowCrossProviderContext: false })])).toEqual([
      expect.objectContaining({
        path: "steps[1]",
        stepId: "review",
        provider: "anthropic",
        setting: "allowCrossProviderContext",
        message: expect.stringContaining("draft (openai)"),
      }),
    ]);
  });

  it("checks each fallback too", () => {
    expect(findPolicyViolations(critique, [rule("google", { allowCrossProviderContext: false })])).toEqual([
      expect.objectContaining({ path: "steps[1].fallbacks[0]", provider: "google" }),
    ]);
  });

  it("allows the same provider's outputs, and steps that read no output", () => {
    const flow = compileFlowOrThrow({
      name: "p",
      type: "parallel",
      steps: [step("a", "openai", { prompt: "original" }), step("b", "anthropic", { prompt: "original" })],
    });
    expect(
      findPolicyViolations(flow, [rule("anthropic", { allowCrossProviderContext: false })]).filter(
        (v) => v.stepId !== "b",
      ),
    ).toEqual([]);
    const same = compileFlowOrThrow({
      name: "s",
      type: "sequential",
      steps: [step("a", "openai"), step("b", "openai")],
    });
    expect(findPolicyViolations(same, [rule("openai", { allowCrossProviderContext: false })])).toEqual([]);
  });

  it("refuses a prompt that places {{ history }} for a provider that may not see history", () => {
    const flow = compileFlowOrThrow({
      name: "h",
      type: "sequential",
      contextPolicy: { shareConversationHistory: true },
      steps: [step("a", "openai", { prompt: "Given {{ history }}, answer {{ original }}" })],
    });
    expect(findPolicyViolations(flow, [rule("openai", { allowConversationHistory: false })])).toEqual([
      expect.objectContaining({ stepId: "a", setting: "allowConversationHistory" }),
    ]);
  });

  it("names every output a step may carry, whatever maxSharedTokens trims at run time", () => {
    // The check runs in the API: it neither loads the tokenizer nor trims placeholder outputs.
    const flow = compileFlowOrThrow({
      name: "t",
      type: "sequential",
      contextPolicy: { maxSharedTokens: 1 },
      steps: [
        step("a", "openai"),
        step("b", "google"),
        step("c", "anthropic", { prompt: "{{ all }}", inputFrom: "all" }),
      ],
    });
    expect(findPolicyViolations(flow, [rule("anthropic", { allowCrossProviderContext: false })])).toEqual([
      expect.objectContaining({ stepId: "c", message: expect.stringMatching(/a \(openai\), b \(google\)/) }),
    ]);
  });
});

describe("strictestRules", () => {
  it("keeps a setting on only where every user's rule for that provider allows it", () => {
    const owner = [rule("openai", { allowConversationHistory: false }), rule("google")];
    const executor = [
      rule("openai", { allowCrossProviderContext: false }),
      rule("anthropic", { allowConversationHistory: false }),
    ];
    expect(strictestRules([...owner, ...executor])).toEqual([
      rule("anthropic", { allowConversationHistory: false }),
      rule("google"),
      rule("openai", { allowConversationHistory: false, allowCrossProviderContext: false }),
    ]);
  });

  it("treats a user without a rule as unrestricted, whichever order the rules come in", () => {
    const strict = rule("openai", { allowConversationHistory: false });
    expect(strictestRules([strict, rule("openai")])).toEqual([strict]);
    expect(strictestRules([rule("openai"), strict])).toEqual([strict]);
    expect(strictestRules([])).toEqual([]);
  });

  it("makes a flow the owner's policy forbids a violation even when the executor allows everything", () => {
    const flow = compileFlowOrThrow({
      name: "h",
      type: "sequential",
      contextPolicy: { shareConversationHistory: true },
      steps: [step("a", "openai", { prompt: "{{ history }}" })],
    });
    const rules = strictestRules([rule("openai", { allowConversationHistory: false }), rule("openai")]);
    expect(findPolicyViolations(flow, rules)).toEqual([
      expect.objectContaining({ stepId: "a", setting: "allowConversationHistory" }),
    ]);
  });
});

describe("shareableHistory", () => {
  const history = [
    { role: "user" as const, content: "question" },
    { role: "assistant" as const, content: "from openai", provider: "openai" },
    { role: "assistant" as const, content: "from anthropic", provider: "anthropic" },
  ];

  it("is the whole history for a provider without a rule, or whose rule allows both", () => {
    expect(shareableHistory(history, "openai", [])).toEqual(history);
    expect(shareableHistory(history, "openai", [rule("openai")])).toEqual(history);
  });

  it("is empty for a provider that may not see history", () => {
    expect(shareableHistory(history, "openai", [rule("openai", { allowConversationHistory: false })])).toEqual([]);
  });

  it("leaves out what other providers wrote when cross-provider context is off", () => {
    expect(shareableHistory(history, "openai", [rule("openai", { allowCrossProviderContext: false })])).toEqual([
      history[0],
      history[1],
    ]);
  });
});
