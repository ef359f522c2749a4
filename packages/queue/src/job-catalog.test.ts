import { InvalidJobPayloadError } from "./errors/invalid-job-payload-error.js";
import { JOB_CATALOG, JOB_NAMES, parseJobPayload } from "./job-catalog.js";
import { jobIdFor } from "./job-id.js";
import { prepareJob } from "./job-options.js";
import { stepQueueName } from "./queue-names.js";

const flowId = "0b6f3c1e-8a57-4f39-9c2c-2a4c8f1d7e10";

describe("job catalog", () => {
  it("puts flow jobs on the flows queue, step.run and the batch jobs on the steps queue", () => {
    for (const name of JOB_NAMES) {
      expect(JOB_CATALOG[name].queue).toBe(name.startsWith("step.") || name.startsWith("batch.") ? "steps" : "flows");
    }
    // A batch job runs on its provider's pool, which holds the key.
    expect(prepareJob("batch.poll", { batchId: "b1", provider: "openai" }, { dedupe: "7" })).toMatchObject({
      queue: "steps-openai",
      opts: { jobId: "batch-poll_b1_7" },
    });
    // A batch step's synchronous fallback is a job apart from the one that batched it.
    const step = { flowId: "f", run: 1, stepId: "s", iteration: 0, attempt: 0, provider: "openai" };
    expect(prepareJob("step.run", { ...step, batchFallback: true }).opts.jobId).toBe("step_f_1_s_0_0_sync");
    expect(prepareJob("step.run", step).opts.jobId).toBe("step_f_1_s_0_0");
    expect(JOB_CATALOG["flow.start"]).toMatchObject({ attempts: 10, backoff: { type: "exponential", delay: 200 } });
    expect(JOB_CATALOG["step.run"]).toMatchObject({ attempts: 20, backoff: { type: "exponential", delay: 500 } });
  });

  it("names the offending field when a payload is invalid", () => {
    const attempt = (): unknown =>
      parseJobPayload("step.run", { flowId, run: 0, stepId: "draft", iteration: 0, attempt: 0 });
    expect(attempt).toThrow(InvalidJobPayloadError);
    expect(attempt).toThrow(/^invalid step\.run payload: run: /);

    try {
      parseJobPayload("flow.cancel", { flowId, run: 1, reason: "bored" });
      throw new Error("expected a validation error");
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidJobPayloadError);
      expect((err as InvalidJobPayloadError).issues.map((issue) => issue.path)).toEqual(["reason"]);
    }
    expect(() => parseJobPayload("step.run", { flowId, run: 1, stepId: "9bad", iteration: 0, attempt: 0 })).toThrow(
      /stepId: /,
    );
    expect(() => parseJobPayload("flow.start", { flowId: "", run: 1 })).toThrow(/flowId: /);
  });

  it("accepts a label up to 200 characters and strips unknown fields", () => {
    const payload = parseJobPayload("flow.start", {
      flowId,
      run: 1,
      label: "Translation Pipeline › summarize #1",
      prompt: "secret",
    });
    expect(payload).toEqual({ flowId, run: 1, label: "Translation Pipeline › summarize #1" });
    expect(() => parseJobPayload("flow.start", { flowId, run: 1, label: "x".repeat(201) })).toThrow(/label: /);
  });
});

describe("jobIdFor", () => {
  const step = { flowId, run: 2, stepId: "summarize_v2", iteration: 1, attempt: 0 };

  it("is deterministic and never contains a colon", () => {
    expect(jobIdFor("step.run", step)).toBe(jobIdFor("step.run", { ...step, label: "another label" }));
    expect(jobIdFor("step.run", step)).toBe(`step_${flowId}_2_summarize_v2_1_0`);
    expect(jobIdFor("flow.start", { flowId, run: 1 })).toBe(`start_${flowId}_1`);
    expect(jobIdFor("flow.cancel", { flowId, run: 1, reason: "timed_out" })).toBe(`cancel_${flowId}_1`);
    expect(jobIdFor("flow.archive-events", { flowId })).toBe(`archive_${flowId}`);
    expect(jobIdFor("flow.advance", { flowId, run: 3 }, { dedupe: "draft.0.1" })).toBe(`advance_${flowId}_3_draft.0.1`);
    const review = { flowId, run: 2, stepId: "human_review", iteration: 1 };
    expect(jobIdFor("flow.approval-timeout", review)).toBe(`approval-timeout_${flowId}_2_1_human_review`);
    expect(jobIdFor("flow.approval-timeout", review, { dedupe: "sweep-7" })).toBe(
      `approval-timeout_${flowId}_2_1_sweep-7_human_review`,
    );

    const awkward = "flow:with_odd~chars/ü";
    const ids = [
      jobIdFor("flow.start", { flowId: awkward, run: 1 }),
      jobIdFor("step.run", { ...step, flowId: awkward }),
      jobIdFor("flow.advance", { flowId: awkward, run: 1 }, { dedupe: "a:b" }),
      jobIdFor("flow.sweep", {}),
    ];
    for (const id of ids) expect(id).not.toContain(":");
    expect(ids[0]).toBe("start_flow~3awith~5fodd~7echars~2f~c3~bc_1");
  });

  it("keeps distinct jobs distinct even when parts contain the separator", () => {
    const a = jobIdFor("step.run", { flowId: "a_b", run: 1, stepId: "c", iteration: 0, attempt: 0 });
    const b = jobIdFor("step.run", { flowId: "a", run: 1, stepId: "b_c", iteration: 0, attempt: 0 });
    expect(a).not.toBe(b);
  });

  it("lets repeatable jobs differ by dedupe suffix, defaulting to a timestamp", () => {
    const first = jobIdFor("flow.advance", { flowId, run: 1 });
    expect(first).toMatch(new RegExp(`^advance_${flowId}_1_\\d{13}$`));
    expect(jobIdFor("flow.advance", { flowId, run: 1 }, { dedupe: "x" })).not.toBe(
      jobIdFor("flow.advance", { flowId, run: 1 }, { dedupe: "y" }),
    );
  });
});

describe("prepareJob", () => {
  it("applies catalog defaults and caller options", () => {
    const job = prepareJob(
      "step.run",
      { flowId, run: 1, stepId: "draft", iteration: 0, attempt: 0 },
      { lifo: true, delayMs: 250, priority: 3 },
    );
    expect(job.queue).toBe("steps");
    expect(job.opts).toEqual({
      jobId: `step_${flowId}_1_draft_0_0`,
      attempts: 20,
      backoff: { type: "exponential", delay: 500 },
      removeOnComplete: { age: 3600, count: 10000 },
      removeOnFail: { age: 7 * 24 * 3600 },
      delay: 250,
      priority: 3,
      lifo: true,
    });
  });

  it("routes a step to its provider's queue, and one without a provider to the plain steps queue", () => {
    const step = { flowId, run: 1, stepId: "draft", iteration: 0, attempt: 0 };
    expect(prepareJob("step.run", { ...step, provider: "openai", model: "gpt-4o" }).queue).toBe("steps-openai");
    expect(prepareJob("step.run", { ...step, attempt: 3, provider: "anthropic", model: "claude" }).queue).toBe(
      "steps-anthropic",
    );
    expect(prepareJob("step.run", step).queue).toBe("steps");
    expect(prepareJob("flow.start", { flowId, run: 1 }).queue).toBe("flows");
    expect(stepQueueName("sim")).toBe("steps-sim");
  });

  it("honours retry overrides and an explicit job id", () => {
    const job = prepareJob("flow.start", { flowId, run: 1 }, { jobId: "custom" }, { "flow.start": { attempts: 2 } });
    expect(job.opts).toMatchObject({ jobId: "custom", attempts: 2, backoff: { type: "exponential", delay: 200 } });
  });
});
