import { compileFlow } from "../validation/compile-flow.js";
import { DEFAULT_BATCH_DEADLINE_MS, parseBatchDeadline } from "./batch-deadline.js";
import { applyRunBatchDelivery } from "./run-delivery.js";

describe("parseBatchDeadline", () => {
  it("takes a positive number of milliseconds", () => {
    expect(parseBatchDeadline(60_000)).toBe(60_000);
    expect(parseBatchDeadline(0)).toBeNull();
    expect(parseBatchDeadline(-5)).toBeNull();
    expect(parseBatchDeadline(1.5)).toBeNull();
  });

  it("reads ISO 8601 durations in weeks, days, hours, minutes and seconds", () => {
    expect(parseBatchDeadline("PT6H")).toBe(6 * 3_600_000);
    expect(parseBatchDeadline("P1DT30M")).toBe(86_400_000 + 30 * 60_000);
    expect(parseBatchDeadline("PT1.5S")).toBe(1_500);
    expect(parseBatchDeadline("P1W")).toBe(7 * 86_400_000);
    expect(parseBatchDeadline("pt2m")).toBe(120_000);
  });

  it("refuses what is not a positive duration", () => {
    for (const bad of ["", "P", "PT", "P1DT", "6h", "PT0S", "P1Y", "P1M", "PT-1H", "soon"])
      expect([bad, parseBatchDeadline(bad)]).toEqual([bad, null]);
  });
});

describe("batch delivery in a definition", () => {
  const flow = (step: Record<string, unknown>) => ({
    name: "batch",
    type: "sequential",
    steps: [{ id: "a", provider: "openai", model: "gpt-4o-mini", action: "generate", prompt: "original", ...step }],
  });

  it("compiles a batch step with its deadline (default 24 h)", () => {
    const withDeadline = compileFlow(flow({ delivery: "batch", batchDeadline: "PT6H" }));
    expect(withDeadline.ok && withDeadline.flow.steps[0]?.batch).toEqual({ deadlineMs: 6 * 3_600_000 });
    const byDefault = compileFlow(flow({ delivery: "batch" }));
    expect(byDefault.ok && byDefault.flow.steps[0]?.batch).toEqual({ deadlineMs: DEFAULT_BATCH_DEADLINE_MS });
    const sync = compileFlow(flow({}));
    expect(sync.ok && sync.flow.steps[0]?.batch).toBeNull();
  });

  it("names the field that makes batch delivery impossible", () => {
    expect(compileFlow(flow({ provider: "google", model: "gemini-2.5-pro", delivery: "batch" }))).toEqual({
      ok: false,
      issues: [{ path: "steps[0].delivery", message: expect.stringContaining('"google" has no batch API') }],
    });
    expect(compileFlow(flow({ delivery: "batch", batchDeadline: "PT0S" }))).toEqual({
      ok: false,
      issues: [{ path: "steps[0].batchDeadline", message: expect.stringContaining("positive") }],
    });
    expect(compileFlow(flow({ delivery: "batch", batchDeadline: -1 }))).toMatchObject({
      ok: false,
      issues: [{ path: "steps[0].batchDeadline" }],
    });
    expect(compileFlow(flow({ batchDeadline: 1000 }))).toMatchObject({
      ok: false,
      issues: [{ path: "steps[0].batchDeadline", message: 'is set but delivery is not "batch"' }],
    });
    const approval = compileFlow({
      name: "x",
      type: "sequential",
      steps: [{ kind: "approval", id: "ok", prompt: "fine?", delivery: "batch" }],
    });
    expect(approval.ok).toBe(false);
    expect(JSON.stringify(approval)).toContain("delivery");
  });
});

describe("applyRunBatchDelivery (an execute's delivery)", () => {
  const definition = {
    name: "two",
    type: "sequential" as const,
    steps: [
      { id: "a", provider: "openai", model: "gpt-4o", action: "generate" as const, prompt: "original" },
      {
        id: "b",
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        action: "refine" as const,
        prompt: "{{ previous }}",
        delivery: "sync" as const,
      },
    ],
  };

  it("batches every model step that does not choose its own delivery", () => {
    const result = applyRunBatchDelivery(definition, { batchDeadline: "PT2H" });
    expect(result.ok && result.flow.steps.map((s) => s.batch)).toEqual([{ deadlineMs: 7_200_000 }, null]);
  });

  it("names the execute's fields in its issues", () => {
    const google = { ...definition, steps: [{ ...definition.steps[0], provider: "google", model: "gemini-2.5-pro" }] };
    expect(applyRunBatchDelivery(google as typeof definition, {})).toEqual({
      ok: false,
      issues: [{ path: "delivery", message: expect.stringContaining('step a: provider "google" has no batch API') }],
    });
    expect(applyRunBatchDelivery(definition, { batchDeadline: "tomorrow" })).toMatchObject({
      ok: false,
      issues: [{ path: "batchDeadline" }],
    });
  });
});
