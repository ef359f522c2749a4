import { renderApprovalPrompt } from "../context/approval-prompt.js";
import { FLOW_LIMITS } from "../schema/limits.js";
import type { ApprovalOutput } from "../schema/results.js";
import { compileFlow, compileFlowOrThrow } from "../validation/compile-flow.js";
import { checkApprovalData } from "../validation/compile-approval.js";
import { approvalDecisionOf, approvalResult } from "./approval.js";
import { planNextSteps } from "./plan-next-steps.js";
import type { StepRecord } from "./step-record.js";

const sim = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  provider: "sim",
  model: "echo",
  action: "generate",
  prompt: `${id}: {{ previous }}`,
  ...extra,
});
const review = (extra: Record<string, unknown> = {}) => ({
  kind: "approval",
  id: "review",
  prompt: "Publish?\n{{ steps.draft.output }}",
  ...extra,
});
const flowOf = (steps: unknown[]) => ({ name: "reviewed", type: "sequential", steps });
const decided = (decision: "approve" | "reject", decidedBy: string | null = "u1"): ApprovalOutput => ({
  decision,
  data: null,
  comment: null,
  decidedBy,
  decidedAt: "2026-01-01T00:00:00.000Z",
});
const run = { originalPrompt: "the request" };
const ok = (stepId: string, output: string): StepRecord => ({
  stepId,
  iteration: 0,
  attempt: 0,
  status: "success",
  output,
});

describe("approval steps: compiling", () => {
  it("defaults: waits 24 h and rejects on timeout; no provider, no retries", () => {
    const step = compileFlowOrThrow(flowOf([sim("draft"), review()])).byId.get("review")!;
    expect(step.approval).toMatchObject({ timeoutMs: 24 * 3600_000, onTimeout: "reject", responseSchema: null });
    expect(step.targets).toEqual([]);
    expect(step.maxAttempts).toBe(1);
  });

  it("has no provider fields", () => {
    const result = compileFlow(flowOf([sim("draft"), review({ model: "gpt-4o" })]));
    expect(result.ok ? [] : result.issues).toContainEqual({ path: "steps[1].model", message: "is not a known field" });
  });

  it("names the field of each mistake: {{ history }}, a regular expression, an unusable schema", () => {
    const result = compileFlow(
      flowOf([
        sim("draft"),
        { kind: "approval", id: "b", prompt: "{{ history }}" },
        {
          kind: "approval",
          id: "c",
          prompt: "c",
          // a property may be named "pattern"; the keyword is what is refused
          responseSchema: { type: "object", properties: { pattern: { type: "string", pattern: "^(a+)+$" } } },
        },
        { kind: "approval", id: "d", prompt: "d", responseSchema: { type: "nonsense" } },
        { kind: "approval", id: "e", prompt: "e", condition: { hook: "isUrgent" } },
      ]),
    );
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining([
        "steps[1].prompt",
        "steps[4].condition",
        "steps[2].responseSchema.properties.pattern.pattern",
        "steps[3].responseSchema",
      ]),
    );
  });

  it("checks the approver's data against responseSchema, naming the path under data", () => {
    const step = compileFlowOrThrow(
      flowOf([
        sim("draft"),
        review({
          responseSchema: {
            type: "object",
            properties: { score: { type: "number", maximum: 10 } },
            required: ["score"],
            additionalProperties: false,
          },
        }),
      ]),
    ).byId.get("review")!;
    expect(checkApprovalData(step.approval!, { score: 3 })).toEqual([]);
    expect(checkApprovalData(step.approval!, { score: 11 }).map((i) => i.path)).toEqual(["data.score"]);
    expect(checkApprovalData(step.approval!, { score: 1, extra: true }).map((i) => i.path)).toEqual(["data.extra"]);
    expect(checkApprovalData(step.approval!, undefined).map((i) => i.path)).toEqual(["data"]);
  });
});

describe("approval steps: planning", () => {
  const flow = compileFlowOrThrow(
    flowOf([sim("draft"), review(), sim("refine", { prompt: "{{ steps.review.output }}" })]),
  );

  it("is dispatched once its dependencies are done; while it waits nothing after it starts and the run does not end", () => {
    expect(planNextSteps(flow, [ok("draft", "d")], run).dispatch.map((d) => d.stepId)).toEqual(["review"]);
    const waiting = planNextSteps(
      flow,
      [ok("draft", "d"), { stepId: "review", iteration: 0, attempt: 0, status: "waiting" }],
      run,
    );
    expect(waiting).toMatchObject({ dispatch: [], outcome: null });
  });

  it("an approval lets the run go on; an unhandled reject fails it with code rejected", () => {
    const approved = approvalResult(flow, "review", decided("approve"));
    expect(approved).toMatchObject({ status: "success", error: null });
    expect(JSON.parse(approved.output)).toMatchObject({ decision: "approve", decidedBy: "u1" });
    const next = planNextSteps(flow, [ok("draft", "d"), ok("review", approved.output)], run);
    expect(next.dispatch.map((d) => d.stepId)).toEqual(["refine"]);

    const rejected = approvalResult(flow, "review", decided("reject", null));
    expect(rejected.status).toBe("failed");
    expect(rejected.error).toMatchObject({ code: "rejected", message: expect.stringContaining("its timeout") });
    const ended = planNextSteps(
      flow,
      [
        ok("draft", "d"),
        {
          stepId: "review",
          iteration: 0,
          attempt: 0,
          status: "failed",
          output: rejected.output,
          error: rejected.error!,
        },
      ],
      run,
    );
    expect(ended.outcome).toMatchObject({ status: "failed", stepId: "review", error: { code: "rejected" } });
  });

  it("a reject that a condition reads succeeds, and conditions branch on steps.<id>.decision", () => {
    const branching = compileFlowOrThrow(
      flowOf([
        sim("draft"),
        review(),
        sim("publish", { dependsOn: ["review"], condition: 'steps.review.decision == "approve"' }),
        sim("revise", { dependsOn: ["review"], condition: 'steps.review.decision == "reject"' }),
      ]),
    );
    const rejected = approvalResult(branching, "review", decided("reject"));
    expect(rejected.status).toBe("success");
    const next = planNextSteps(branching, [ok("draft", "d"), ok("review", rejected.output)], run);
    expect(next.dispatch.map((d) => d.stepId)).toEqual(["revise"]);
    expect(next.skip.map((s) => s.stepId)).toEqual(["publish"]);
  });

  it("reads the decision from an output, and nothing from what is not one", () => {
    expect(approvalDecisionOf(JSON.stringify(decided("reject")))).toBe("reject");
    expect(approvalDecisionOf("not json")).toBe("");
    expect(approvalDecisionOf('{"decision":"maybe"}')).toBe("");
    expect(approvalDecisionOf(null)).toBe("");
  });

  it("renders the prompt as written, with earlier outputs whole", () => {
    const long = "x".repeat(50_000);
    expect(renderApprovalPrompt(flow, [ok("draft", long)], run, "review", 0)).toBe(`Publish?\n${long}`);
    const huge = "x".repeat(FLOW_LIMITS.maxRenderedPromptChars);
    expect(renderApprovalPrompt(flow, [ok("draft", huge)], run, "review", 0)).toMatch(
      /^the rendered prompt is over the limit .* \(GET \/v1\/flows\/:flowId\)$/,
    );
  });
});
