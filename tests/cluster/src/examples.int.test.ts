import { spawn } from "node:child_process";
import { startFakeVendors, type FakeVendors, type RecordedRequest } from "@ensemble/providers/testing";
import { Cluster, DEV_KEY, REPO_ROOT } from "./cluster-harness.js";

/**
 * The usage examples (examples/*.ts), run as a user runs them — a separate
 * `node --import tsx` process with ENSEMBLE_URL and ENSEMBLE_API_KEY — against a cluster
 * whose workers call OpenAI, Anthropic and Google through their SDKs at local fake servers.
 */
describe("examples/ against a live cluster", () => {
  let vendors: FakeVendors;
  let cluster: Cluster;

  beforeAll(async () => {
    vendors = await startFakeVendors();
    cluster = await Cluster.start({ workers: 1, env: { ...vendors.env } });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    await vendors?.close();
  });
  beforeEach(() => vendors.reset());

  const runExample = (
    file: string,
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", `examples/${file}`], {
        cwd: REPO_ROOT,
        env: { ...process.env, ENSEMBLE_URL: cluster.baseUrl, ENSEMBLE_API_KEY: DEV_KEY, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.on("exit", (code) => resolve({ code, stdout, stderr }));
    });
  const expectSuccess = (run: { code: number | null; stdout: string; stderr: string }): void => {
    if (run.code !== 0) throw new Error(`exit ${String(run.code)}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  };
  const has = (request: RecordedRequest, text: string): boolean => request.prompt.includes(text);

  it("01-critique-flow: streams the critique flow's updates, prints the refined code and the cost", async () => {
    vendors.openai.respondWith((req) =>
      has(req, "Revise your draft")
        ? "function average(values) {\n  if (values.length === 0) return 0;\n  let sum = 0;\n  for (let i = 0; i < values.length; i++) sum += values[i];\n  return sum / values.length;\n}"
        : "function average(values) { let sum = 0; for (let i = 0; i < values.length; i++) sum += values[i]; return sum / values.length; }",
    );
    vendors.anthropic.respondWith(() => "1. Empty input divides by zero: return 0 for an empty array.");
    const run = await runExample("01-critique-flow.ts");
    expectSuccess(run);
    const lines = run.stdout.split("\n");
    expect(lines[0]).toMatch(/^\[flow_start\] flow: \{"run":1,"name":"Critique"/);
    for (const step of ["generate", "critique", "refine"]) {
      expect(lines.some((l) => l.startsWith(`[step_start] ${step}: `))).toBe(true);
      expect(lines.some((l) => l.startsWith(`[step_complete] ${step}: `))).toBe(true);
    }
    expect(lines.filter((l) => l.startsWith("[step_progress] generate: ")).length).toBeGreaterThan(1);
    expect(run.stdout).toContain("[flow_complete] flow: ");
    expect(run.stdout).toContain(
      "Final refined code: function average(values) {\n  if (values.length === 0) return 0;",
    );
    expect(run.stdout).toMatch(/Total cost: \$0\.\d{4}\n/);
    expect(Number(/Total cost: \$(\S+)/.exec(run.stdout)![1])).toBeGreaterThan(0);
    // The critic saw the draft; the refiner saw the critique.
    expect(vendors.anthropic.requests[0]!.prompt).toContain("i < values.length");
    expect(vendors.openai.requests.at(-1)!.prompt).toContain("Empty input divides by zero");
  });

  it("02-custom-sequential-flow: OpenAI translates, Anthropic summarizes the translation, both saved to the thread", async () => {
    vendors.openai.respondWith(
      () =>
        "Last night the city council voted to create three new cycle lanes. Work will start in spring and last six months.",
    );
    vendors.anthropic.respondWith(() => "Three new cycle lanes, built over six months from spring.");
    const run = await runExample("02-custom-sequential-flow.ts");
    expectSuccess(run);
    expect(run.stdout).toMatch(/^Created flow "Translation Pipeline" \(sequential, 2 steps\): [0-9a-f-]{36}\n/);
    expect(run.stdout).toMatch(
      /\[translate\] openai\/gpt-4 — success, \d+ tokens, \$0\.\d{4}\nLast night the city council voted/,
    );
    expect(run.stdout).toMatch(/\[summarize\] anthropic\/claude-3-opus — success, \d+ tokens/);
    expect(run.stdout).toContain("Summary: Three new cycle lanes, built over six months from spring.");
    expect(run.stdout).toContain("Saved to the thread: 2 messages (translate, summarize)");
    expect(vendors.openai.requests[0]!.prompt).toContain("Translate to English: Le conseil municipal");
    expect(vendors.openai.requests[0]!.body).toMatchObject({ model: "gpt-4", temperature: 0.3 });
    expect(vendors.anthropic.requests[0]!.prompt).toContain("Summarize: Last night the city council");
  });

  it("03-conditional-routing: the classification routes to the technical expert only", async () => {
    vendors.openai.respondWith((req) =>
      has(req, "Classify this as")
        ? "TECHNICAL"
        : "Query pg_stat_user_tables for n_dead_tup and last_autovacuum, then lower autovacuum_vacuum_scale_factor.",
    );
    const run = await runExample("03-conditional-routing.ts");
    expectSuccess(run);
    expect(run.stdout).toContain("Request: How do I find out why my PostgreSQL autovacuum is not keeping up?");
    expect(run.stdout).toContain("Classified as: TECHNICAL");
    expect(run.stdout).toContain("technical_expert: success (openai/gpt-4)");
    expect(run.stdout).toContain("creative_expert: skipped");
    expect(run.stdout).toContain("Answer: Query pg_stat_user_tables");
    expect(vendors.anthropic.requests).toHaveLength(0);
  });

  it("04-monitor-and-cancel: prints progress while the flow runs, then its assessment", async () => {
    const slow = { text: Array.from({ length: 16 }, (_, i) => `word${i}`).join(" "), chunkDelayMs: 50 };
    for (const vendor of [vendors.openai, vendors.anthropic, vendors.google]) vendor.respondWith(() => slow);
    const run = await runExample("04-monitor-and-cancel.ts", { POLL_INTERVAL_MS: "300" });
    expectSuccess(run);
    expect(run.stdout).toContain(
      'Running "Sequential Analysis" (extract_facts → analyze_logic → evaluate_credibility → synthesize)',
    );
    const progress = [...run.stdout.matchAll(/^Progress: (\d+\.\d)% \((\d)\/4 steps, (\w+)\)$/gm)];
    expect(progress.length).toBeGreaterThanOrEqual(3);
    const percents = progress.map((m) => Number(m[1]));
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(run.stdout).toMatch(/Flow completed in \d+\.\d s\nAssessment: word0 word1/);
    expect(run.stdout).not.toContain("cancelling");
  });

  it("04-monitor-and-cancel: a flow that runs too long is cancelled, and the program says so", async () => {
    for (const vendor of [vendors.openai, vendors.anthropic, vendors.google])
      vendor.respondWith(() => ({ hang: true }));
    const run = await runExample("04-monitor-and-cancel.ts", { POLL_INTERVAL_MS: "300", CANCEL_AFTER_MS: "1000" });
    expectSuccess(run);
    expect(run.stdout).toMatch(/Still running after 1\.\d s: cancelling/);
    expect(run.stdout).toContain("Flow cancelled; steps finished before the cancel: none");
    // The hanging vendor call was aborted, not left open.
    await vendors.openai.waitFor(
      (requests) => requests.length > 0 && requests.every((r) => r.clientClosedEarly),
      5_000,
    );
  });

  it("06-rerun-and-compare: reruns the critique with Google's model, reusing the draft, and prints both runs side by side", async () => {
    vendors.openai.respondWith((req) =>
      has(req, "Revise your draft")
        ? has(req, "causality")
          ? "A vector clock tracks causality between events."
          : "A vector clock orders events."
        : "A vector clock is a list of counters.",
    );
    vendors.anthropic.respondWith(() => "Mention ordering.");
    vendors.google.respondWith(() => "Mention causality.");
    const run = await runExample("06-rerun-and-compare.ts");
    expectSuccess(run);
    expect(run.stdout).toContain(
      'Run 2 reran run 1 from "critique" with google/gemini-2.5-pro\nReused from run 1: generate\n',
    );
    expect(run.stdout).toMatch(
      /== generate\nrun 1: openai\/gpt-4o, \d+ tokens, \$0\.\d{4}, \d+ ms\nrun 2: openai\/gpt-4o, 0 tokens, \$0\.0000, \d+ ms, reused from run 1\n/,
    );
    expect(run.stdout).toMatch(
      /== critique\nrun 1: anthropic\/claude-sonnet-4-5, .*\nrun 2: google\/gemini-2\.5-pro, .*\ndiff: Mention \[-ordering-\]\{\+causality\+\}\.\n/,
    );
    expect(run.stdout).toContain("diff: A vector clock [-orders-]{+tracks causality between+} events.");
    expect(run.stdout).toMatch(/== totals\nrun 1: completed, \d+ tokens, \$0\.\d{4}\nrun 2: completed, \d+ tokens/);
    // The draft was written once: one generate request across both runs.
    expect(vendors.openai.requests.filter((r) => !has(r, "Revise your draft"))).toHaveLength(1);
    expect(vendors.anthropic.requests).toHaveLength(1);
    expect(vendors.google.requests).toHaveLength(1);
  });

  it("05-approval: the run waits for the decision, then the refiner gets the critique and the approver's note", async () => {
    vendors.openai.respondWith((req) => (has(req, "Revise your draft") ? "refined average()" : "draft average()"));
    vendors.anthropic.respondWith(() => "Handle the empty array.");
    const run = await runExample("05-approval.ts", { APPROVAL_DECISION: "approve", APPROVAL_NOTE: "keep it short" });
    expectSuccess(run);
    expect(run.stdout).toContain('Running "Reviewed critique" (generate → critique → review → refine)');
    expect(run.stdout).toMatch(/Step "review" waits until \d{4}-\d\d-\d\dT/);
    // The approver saw the draft and the critique, rendered into the step's prompt.
    expect(run.stdout).toContain("Draft:\ndraft average()\n\nCritique:\nHandle the empty array.");
    expect(run.stdout).toContain("Decision sent: approve (note: keep it short)");
    expect(run.stdout).toContain("Refined answer:\nrefined average()");
    expect(vendors.openai.requests.at(-1)!.prompt).toContain('"note":"keep it short"');
  });

  it("05-approval: a reject stops the run before the refiner is called, keeping the draft", async () => {
    vendors.openai.respondWith(() => "draft average()");
    vendors.anthropic.respondWith(() => "Handle the empty array.");
    const run = await runExample("05-approval.ts", { APPROVAL_DECISION: "reject" });
    expectSuccess(run);
    expect(run.stdout).toContain("Decision sent: reject");
    expect(run.stdout).toContain(
      "Rejected: the run stopped before refining. The draft stays as it was:\ndraft average()",
    );
    expect(vendors.openai.requests).toHaveLength(1); // the draft only: no refinement was asked for
  });

  it("without ENSEMBLE_API_KEY an example explains what to set and exits 2", async () => {
    const run = await runExample("01-critique-flow.ts", { ENSEMBLE_API_KEY: "" });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Set ENSEMBLE_API_KEY");
  });
});
