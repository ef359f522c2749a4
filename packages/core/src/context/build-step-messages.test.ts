import { compileFlowOrThrow } from "../validation/compile-flow.js";
import { createRunState, type StepRecord } from "../planner/step-record.js";
import { buildStepMessages } from "./build-step-messages.js";
import { buildStepContext } from "./build-step-context.js";
import { defaultTokenCounter } from "./tokenizer.js";
import { TRIM_MARKER } from "./token-budget.js";

const step = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  provider: "sim",
  model: "m",
  action: "generate",
  prompt: "Work on it.",
  ...extra,
});
const done = (stepId: string, output: string, iteration = 0): StepRecord => ({
  stepId,
  iteration,
  attempt: 0,
  status: "success",
  output,
});

function messagesFor(
  definition: Record<string, unknown>,
  records: StepRecord[],
  target: string,
  options = {},
  metadata = {},
) {
  const flow = compileFlowOrThrow({ name: "ctx", type: "sequential", ...definition });
  const state = createRunState(flow, records, { originalPrompt: "ORIGINAL", metadata });
  return buildStepMessages(state, target, 0, options);
}

const history = [
  { role: "system" as const, content: "You are the thread's assistant." },
  { role: "user" as const, content: "earlier question" },
  { role: "assistant" as const, content: "earlier answer", provider: "openai" },
];

describe("buildStepMessages — context policy", () => {
  it("defaults: the original request and the previous output are attached to a prompt that does not place them", () => {
    const out = messagesFor({ steps: [step("a"), step("b")] }, [done("a", "A-OUT")], "b");
    expect(out.messages).toEqual([
      // The original request is the part every step sends alike: the prefix a prompt cache serves.
      {
        role: "user",
        content: 'Original request:\nORIGINAL\n\nOutput of step "a":\nA-OUT\n\nWork on it.',
        stablePrefixLength: "Original request:\nORIGINAL".length,
      },
    ]);
    expect(out.sources).toEqual([{ stepId: "a", iteration: 0, provider: "sim" }]);
  });

  it("a template that places its inputs gets nothing added", () => {
    const out = messagesFor(
      { steps: [step("a"), step("b", { prompt: "Q: {{ original }} A: {{ previous }} #{{ iteration }}" })] },
      [done("a", "A-OUT")],
      "b",
    );
    expect(out.messages).toEqual([{ role: "user", content: "Q: ORIGINAL A: A-OUT #0", stablePrefixLength: 0 }]);
  });

  it("a first step whose {{ previous }} is the original request does not get it twice", () => {
    const out = messagesFor({ steps: [step("a", { prompt: "Answer: {{ previous }}" })] }, [], "a");
    expect(out.messages).toEqual([{ role: "user", content: "Answer: ORIGINAL", stablePrefixLength: 0 }]);
  });

  it("includeOriginalPrompt: false leaves the original request out", () => {
    const out = messagesFor(
      { contextPolicy: { includeOriginalPrompt: false }, steps: [step("a"), step("b")] },
      [done("a", "A-OUT")],
      "b",
    );
    expect(out.messages[0]?.content).toBe('Output of step "a":\nA-OUT\n\nWork on it.');
  });

  it("shareStepOutputs: false shares no earlier output", () => {
    const out = messagesFor(
      { contextPolicy: { shareStepOutputs: false }, steps: [step("a"), step("b")] },
      [done("a", "SECRET")],
      "b",
    );
    expect(JSON.stringify(out.messages)).not.toContain("SECRET");
    expect(out.sources).toEqual([]);
  });

  it("the prompt 'original' sends the original request as written", () => {
    const out = messagesFor({ steps: [step("a"), step("b", { prompt: "original" })] }, [done("a", "A-OUT")], "b");
    expect(out.messages).toEqual([{ role: "user", content: "ORIGINAL", stablePrefixLength: "ORIGINAL".length }]);
  });

  it("shareConversationHistory sends history only when the data-sharing policy allows it", () => {
    const def = { contextPolicy: { shareConversationHistory: true }, steps: [step("a")] };
    expect(messagesFor(def, [], "a", { history, historyAllowed: false }).includesHistory).toBe(false);
    const allowed = messagesFor(def, [], "a", { history, historyAllowed: true });
    expect(allowed.messages.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(allowed.messages[0]?.content).toBe("earlier question");
    const off = messagesFor({ steps: [step("a")] }, [], "a", { history, historyAllowed: true });
    expect(off.includesHistory).toBe(false);
  });

  it("preserveSystemPrompts keeps the history's system messages", () => {
    const def = {
      contextPolicy: { shareConversationHistory: true, preserveSystemPrompts: true },
      steps: [step("a", { systemPrompt: "Be brief." })],
    };
    const out = messagesFor(def, [], "a", { history, historyAllowed: true });
    expect(out.messages.map((m) => `${m.role}:${m.content}`)).toEqual([
      "system:Be brief.",
      "system:You are the thread's assistant.",
      "user:earlier question",
      "assistant:earlier answer",
      expect.stringMatching(/^user:Original request/),
    ]);
  });

  it("maxSharedTokens trims the oldest shared context first, deterministically", () => {
    const words = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(" ");
    const def = {
      contextPolicy: { maxSharedTokens: 120 },
      steps: [step("a"), step("b"), step("c"), step("d", { prompt: "{{ all }}" })],
    };
    const records = [done("a", words("old", 100)), done("b", words("mid", 60)), done("c", words("new", 30))];
    const out = messagesFor(def, records, "d");
    const content = out.messages[0]?.content ?? "";
    expect(out.sharedTokens).toBeLessThanOrEqual(120);
    expect(content).toContain(words("new", 30));
    expect(content).not.toContain("old0 ");
    expect(content).toContain(TRIM_MARKER);
    expect(out.droppedSegments + out.truncatedSegments).toBeGreaterThan(0);
    expect(messagesFor(def, records, "d")).toEqual(out);
    const unbounded = messagesFor({ ...def, contextPolicy: { maxSharedTokens: 100_000 } }, records, "d");
    expect(unbounded.messages[0]?.content).toContain(words("old", 100));
    expect(defaultTokenCounter.count(words("new", 30))).toBeGreaterThan(30);
  });

  it("fills metadata and step status placeholders; a hook prompt is sent as returned", () => {
    const def = {
      steps: [
        step("a"),
        step("b", { prompt: "tier={{ metadata.tier }} nested={{ metadata.user.id }} a={{ steps.a.status }}" }),
      ],
    };
    const out = messagesFor(def, [done("a", "x")], "b", {}, { tier: "gold", user: { id: 7 } });
    expect(out.messages[0]?.content).toBe("Original request:\nORIGINAL\n\ntier=gold nested=7 a=success");
    const hook = messagesFor({ steps: [step("a", { prompt: { hook: "translate" } })] }, [], "a", {
      hookPrompt: "Translate: hola",
    });
    expect(hook.messages).toEqual([{ role: "user", content: "Translate: hola", stablePrefixLength: 0 }]);
  });

  it("reads only metadata's own keys: inherited names render empty", () => {
    const def = {
      steps: [
        step("a", { prompt: "p={{ metadata.__proto__ }} c={{ metadata.constructor }} t={{ metadata.tier.toString }}" }),
      ],
    };
    const out = messagesFor(def, [], "a", {}, { tier: "gold" });
    expect(out.messages.at(-1)?.content).toContain("p= c= t=");
  });
});

describe("buildStepContext", () => {
  it("gives hooks the StepContext, previousStepOutput chosen by inputFrom", () => {
    const flow = compileFlowOrThrow({
      name: "x",
      type: "sequential",
      steps: [step("translate"), step("summarize", { inputFrom: "translate" })],
    });
    const state = createRunState(flow, [done("translate", "hello")], { originalPrompt: "hola", metadata: { k: 1 } });
    const ctx = buildStepContext(state, "summarize", 0, { flowId: "f1", threadHistory: [], allStepResults: [] });
    expect(ctx).toEqual({
      flowId: "f1",
      stepId: "summarize",
      stepIndex: 1,
      iteration: 0,
      originalPrompt: "hola",
      previousStepOutput: "hello",
      previousStepOutputs: { translate: "hello" },
      allStepResults: [],
      threadHistory: [],
      metadata: { k: 1 },
    });
  });
});
