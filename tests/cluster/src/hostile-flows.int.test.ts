import fc from "fast-check";
import { tables } from "@ensemble/db";
import { startFakeVendors, type FakeVendors, type RecordedRequest } from "@ensemble/providers/testing";
import { ApiClient } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant, send, type RawResponse, type Tenant } from "./tenants.js";

// A hostile user against Alice's thread: Bob, a member with an arbitrary set of
// permissions, or Eve, who is no member, creates and executes arbitrary flows (templates
// reading history, other steps, metadata), runs, cancels and deletes Alice's flows,
// writes messages and reads. After each action, Alice's thread, members, policies,
// messages, flows, ledger and results are unchanged except where the actor's permissions
// allow, no answer the actor got carries Alice's data unless they may read it, and no
// provider call carried Alice's data against Alice's policies (the fake vendors record
// every request; the sim's `echo` answers with what it was sent).

const SECRET = "alice-secret-7f3c";
/** An answer anthropic wrote, saved in Alice's history: another provider's output for the others. */
const SAVED_ANSWER = "anthropic-saved-answer-91d2";
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

/** Alice's policies: openai sees no history and no other provider's output; google no other provider's output; the sim no history. */
const ALICE_POLICIES: Record<
  string,
  { allowConversationHistory: boolean; allowCrossProviderContext: boolean; allowAttachments: boolean }
> = {
  openai: { allowConversationHistory: false, allowCrossProviderContext: false, allowAttachments: false },
  google: { allowConversationHistory: true, allowCrossProviderContext: false, allowAttachments: false },
  sim: { allowConversationHistory: false, allowCrossProviderContext: true, allowAttachments: false },
};
const MODELS: Record<string, string> = {
  sim: "echo",
  openai: "gpt-4o-mini",
  anthropic: "claude-sonnet-4",
  google: "gemini-2.5-flash",
};

/** What a request to `provider` must not carry under Alice's policies. */
function forbiddenIn(provider: string): string[] {
  const policy = ALICE_POLICIES[provider];
  if (!policy) return [];
  return [
    ...(policy.allowConversationHistory ? [] : [SECRET, SAVED_ANSWER]),
    ...(policy.allowCrossProviderContext ? [] : [SAVED_ANSWER]),
  ];
}

// Arbitrary flows, mostly valid so that they run: every template root, conditions that read metadata.
const provider = fc.constantFrom("sim", "openai", "anthropic", "google");
const promptParts = (index: number) =>
  fc
    .array(
      fc.constantFrom(
        "{{ history }}",
        "{{ previous }}",
        "{{ all }}",
        "{{ original }}",
        "{{ metadata.k }}",
        "{{ metadata.constructor }}",
        "answer",
        ...(index > 0 ? ["{{ steps.s0.output }}", "{{ steps.s0.status }}"] : []),
      ),
      { minLength: 1, maxLength: 3 },
    )
    .map((parts) => parts.join(" "));
const condition = fc.constantFrom(
  undefined,
  "true",
  'previous.contains("a")',
  'metadata.k == "v"',
  "has(metadata.constructor)",
);
const flowStep = (index: number) =>
  fc.record({ provider, prompt: promptParts(index), condition }).map(({ provider: p, prompt, condition: c }) => ({
    id: `s${index}`,
    provider: p,
    model: MODELS[p] as string,
    action: "generate",
    prompt,
    ...(c && index > 0 ? { condition: c } : {}),
  }));
const definition = fc
  .record({
    steps: fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => flowStep(i)))),
    shareConversationHistory: fc.boolean(),
    shareStepOutputs: fc.boolean(),
  })
  .map(({ steps, shareConversationHistory, shareStepOutputs }) => {
    // Mostly valid, so that most of them run: a prompt's placeholders need the context policy to share what they read.
    const prompts = steps.map((step) => step.prompt).join(" ");
    const contextPolicy = {
      shareConversationHistory: shareConversationHistory || prompts.includes("{{ history }}"),
      shareStepOutputs: shareStepOutputs || /\{\{ (previous|all|steps\.\w+\.output) \}\}/.test(prompts),
      maxSharedTokens: 2_000,
    };
    return { name: "hostile", type: "sequential", contextPolicy, steps };
  });
const metadata = fc.oneof(
  fc.constant(undefined),
  fc.dictionary(
    fc.constantFrom("k", "constructor", "toString", "history", "s0"),
    fc.oneof(fc.string({ maxLength: 8 }), fc.constant("v")),
    { maxKeys: 3 },
  ),
);

const action = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("create" as const),
      definition,
      run: fc.constantFrom("no", "queue", "wait"),
      metadata,
      saveMessages: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("execute" as const),
      flow: fc.nat(),
      step: fc.boolean(),
      wait: fc.boolean(),
      metadata,
      saveMessages: fc.boolean(),
    }),
  },
  fc.record({ kind: fc.constant("cancel" as const), flow: fc.nat() }),
  fc.record({ kind: fc.constant("delete" as const), flow: fc.nat() }),
  fc.record({ kind: fc.constant("message" as const), role: fc.constantFrom("user", "assistant", "system") }),
  fc.record({
    kind: fc.constant("read" as const),
    what: fc.constantFrom("thread", "messages", "flows", "flow", "status", "events"),
    flow: fc.nat(),
  }),
  fc.record({ kind: fc.constant("member" as const), permissions: fc.subarray(["read", "write", "delete"]) }),
);
// Mostly a member who may write (the interesting case), then any member, then a stranger.
const actor = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .subarray(["read", "delete"])
      .map((more) => ({ who: "bob" as const, permissions: ["write", ...more] })),
  },
  {
    weight: 2,
    arbitrary: fc.subarray(["read", "write", "delete"]).map((permissions) => ({ who: "bob" as const, permissions })),
  },
  { weight: 1, arbitrary: fc.constant({ who: "eve" as const, permissions: [] as string[] }) },
);

describe("hostile flows against another user's thread", () => {
  let vendors: FakeVendors;
  let cluster: Cluster;
  let alice: Tenant;
  let bob: Tenant;
  let eve: Tenant;
  let threadId: string;
  let aliceFlows: string[];

  beforeAll(async () => {
    vendors = await startFakeVendors({ chunkDelayMs: 0 });
    cluster = await Cluster.start({ workers: 1, env: { ADMIN_TOKEN, ...vendors.env } });
    [alice, bob, eve] = await Promise.all([
      createTenant(cluster.baseUrl, "alice"),
      createTenant(cluster.baseUrl, "bob"),
      createTenant(cluster.baseUrl, "eve"),
    ]);
    const owner = new ApiClient(cluster.baseUrl, alice.key);
    for (const [key, policy] of Object.entries(ALICE_POLICIES))
      expect((await owner.request("PUT", `/v1/policies/${key}`, policy)).status).toBe(200);
    threadId = await owner.createThread("alice's");
    expect(
      (await owner.request("POST", `/v1/threads/${threadId}/messages`, { role: "user", content: `remember ${SECRET}` }))
        .status,
    ).toBe(201);
    // Alice's flows: one whose run saved anthropic's answer to her history, one on the sim, one on openai that shares history.
    const saver = await owner.createFlow(threadId, {
      name: "saver",
      type: "sequential",
      steps: [
        { id: "a", provider: "anthropic", model: MODELS.anthropic, action: "generate", prompt: "{{ original }}" },
      ],
    });
    expect((await owner.execute(saver, { input: SAVED_ANSWER, saveMessages: true }, true)).body.status).toBe(
      "completed",
    );
    const echo = await owner.createFlow(threadId, {
      name: "echo",
      type: "sequential",
      steps: [{ id: "a", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" }],
    });
    expect((await owner.execute(echo, { input: `alice's own ${SECRET}` }, true)).body.status).toBe("completed");
    const shared = await owner.createFlow(threadId, {
      name: "shared",
      type: "sequential",
      contextPolicy: { shareConversationHistory: true },
      steps: [
        { id: "a", provider: "openai", model: MODELS.openai, action: "generate", prompt: "Answer {{ original }}" },
      ],
    });
    aliceFlows = [saver, echo, shared];
  });

  afterAll(async () => {
    await cluster?.stop();
    await vendors?.close();
  });

  /** Alice's side, read from the database: what no one else may change (or only with a permission). */
  async function aliceState() {
    const db = cluster.database!.handle.db;
    const [threads, members, policies, messages, flows, ledger] = await Promise.all([
      db.select().from(tables.threads),
      db.select().from(tables.threadMembers),
      db.select().from(tables.dataSharingPolicies),
      db.select().from(tables.messages),
      db.select().from(tables.flows),
      db.select().from(tables.usageLedger),
    ]);
    // Rows come in no set order (an update moves one): compare them sorted by id.
    const byId = <T extends { id: string }>(rows: T[]) => [...rows].sort((a, b) => a.id.localeCompare(b.id));
    const aliceFlowRows = byId(flows.filter((f) => aliceFlows.includes(f.id)));
    return {
      thread: threads.filter((t) => t.id === threadId).map((t) => ({ owner: t.ownerId, title: t.title })),
      otherMembers: members
        .filter((m) => m.threadId === threadId && m.userId !== bob.userId)
        .map((m) => [m.userId, m.permissions]),
      policies: policies.filter((p) => p.userId === alice.userId).map((p) => ({ ...p, updatedAt: null })),
      messages: byId(messages.filter((m) => m.threadId === threadId)).map((m) => m.id),
      definitions: aliceFlowRows.map((f) => [f.id, f.definition]),
      runs: aliceFlowRows.map((f) => [f.id, f.run, f.status]),
      flowIds: aliceFlowRows.map((f) => f.id),
      ledger: byId(ledger.filter((l) => l.userId === alice.userId)).map((l) => [l.flowId, l.id]),
    };
  }

  /** `state` without what belonged to flows no longer there (deleted, as a delete permission allows). */
  function withoutDeleted(state: Awaited<ReturnType<typeof aliceState>>, remaining: string[]) {
    const kept = <T extends unknown[]>(rows: T[]) => rows.filter((row) => remaining.includes(row[0] as string));
    return {
      ...state,
      definitions: kept(state.definitions),
      runs: kept(state.runs),
      ledger: kept(state.ledger),
      flowIds: remaining,
    };
  }

  async function settle(): Promise<void> {
    const db = cluster.database!.handle.db;
    const deadline = Date.now() + 30_000;
    while ((await db.select().from(tables.flows)).some((f) => f.status === "queued" || f.status === "running")) {
      if (Date.now() > deadline) throw new Error("runs did not end within 30 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const requestsSoFar = (): [string, RecordedRequest][] => [
    ...vendors.openai.requests.map((r) => ["openai", r] as [string, RecordedRequest]),
    ...vendors.anthropic.requests.map((r) => ["anthropic", r] as [string, RecordedRequest]),
    ...vendors.google.requests.map((r) => ["google", r] as [string, RecordedRequest]),
  ];

  it("changes nothing of Alice's beyond the actor's permissions, and leaks nothing against her policies", async () => {
    const findings: string[] = [];
    /** How much the fuzz reached: runs started by the actor, and provider requests they made. */
    const reached = { runs: 0, requests: 0 };
    await fc
      .assert(
        fc.asyncProperty(actor, fc.array(action, { minLength: 1, maxLength: 4 }), async (who, actions) => {
          const owner = new ApiClient(cluster.baseUrl, alice.key);
          if (who.who === "bob")
            expect(
              (
                await owner.request("PUT", `/v1/threads/${threadId}/members/${bob.userId}`, {
                  permissions: who.permissions,
                })
              ).status,
            ).toBe(200);
          else
            expect(
              (await owner.request("PUT", `/v1/threads/${threadId}/members/${bob.userId}`, { permissions: [] })).status,
            ).toBe(200);
          const key = who.who === "bob" ? bob.key : eve.key;
          const can = (permission: string) => who.permissions.includes(permission);
          vendors.reset();
          // Vendors answer without echoing: an answer built from history a provider was allowed to
          // see may go on to another provider as its output, and that is the cross-provider rule's
          // business, not leaked history. (The sim still echoes: it is checked like a vendor.)
          for (const vendor of [vendors.openai, vendors.anthropic, vendors.google])
            vendor.respondWith(() => "a fixed answer");
          let before = await aliceState();
          const answers: { what: string; response: RawResponse }[] = [];
          const call = async (what: string, method: string, path: string, body?: unknown) => {
            const response = await send(cluster.baseUrl, {
              method,
              path,
              key,
              ...(body === undefined ? {} : { body }),
              stream: path.endsWith("/events"),
            });
            answers.push({ what, response });
            return response;
          };
          const target = (n: number) => aliceFlows[n % aliceFlows.length] as string;

          for (const a of actions) {
            if (a.kind === "create") {
              const created = await call("create", "POST", "/v1/flows", { threadId, definition: a.definition });
              if (created.status === 201 && a.run !== "no") {
                await call(
                  "execute own",
                  "POST",
                  `/v1/flows/${created.json.id as string}/execute${a.run === "wait" ? "?wait=true" : ""}`,
                  {
                    input: "bob's input",
                    saveMessages: a.saveMessages,
                    ...(a.metadata ? { metadata: a.metadata } : {}),
                  },
                );
              }
            } else if (a.kind === "execute") {
              const path = `/v1/flows/${target(a.flow)}${a.step ? "/steps/a" : ""}/execute${a.wait ? "?wait=true" : ""}`;
              await call("execute alice's", "POST", path, {
                input: "bob's input",
                saveMessages: a.saveMessages,
                ...(a.metadata ? { metadata: a.metadata } : {}),
              });
            } else if (a.kind === "cancel") await call("cancel", "POST", `/v1/flows/${target(a.flow)}/cancel`);
            else if (a.kind === "delete") await call("delete", "DELETE", `/v1/flows/${target(a.flow)}`);
            else if (a.kind === "message")
              await call("message", "POST", `/v1/threads/${threadId}/messages`, {
                role: a.role,
                content: "bob was here",
              });
            else if (a.kind === "member")
              await call("member", "PUT", `/v1/threads/${threadId}/members/${eve.userId}`, {
                permissions: a.permissions,
              });
            else {
              const paths = {
                thread: `/v1/threads/${threadId}`,
                messages: `/v1/threads/${threadId}/messages`,
                flows: `/v1/threads/${threadId}/flows`,
                flow: `/v1/flows/${target(a.flow)}`,
                status: `/v1/flows/${target(a.flow)}/status`,
                events: `/v1/flows/${target(a.flow)}/events`,
              };
              await call(`read ${a.what}`, "GET", paths[a.what]);
            }
          }
          await settle();
          const after = await aliceState();
          // Deleting a flow takes its results and ledger rows with it: compare what remains.
          if (can("delete")) before = withoutDeleted(before, after.flowIds);
          const label = `${who.who} [${who.permissions.join(",")}]`;
          const expectSame = (what: keyof typeof before) => {
            if (JSON.stringify(before[what]) !== JSON.stringify(after[what]))
              findings.push(`${label} changed Alice's ${what}`);
          };
          for (const what of ["thread", "otherMembers", "policies", "definitions", "ledger"] as const) expectSame(what);
          if (!can("write")) for (const what of ["messages", "runs"] as const) expectSame(what);
          if (!can("delete") && after.flowIds.length !== before.flowIds.length)
            findings.push(`${label} deleted Alice's flow`);
          if (process.env.FUZZ_VERBOSE)
            for (const a of answers)
              console.log(
                `${label} ${a.what} ${a.response.status} ${a.response.status >= 400 ? a.response.text.slice(0, 160) : ""}`,
              );
          reached.runs += answers.filter((a) => a.what.startsWith("execute") && a.response.status < 300).length;
          reached.requests += requestsSoFar().length;
          for (const { what, response } of answers) {
            if (response.status >= 500) findings.push(`${label} ${what}: ${response.status}`);
            if (!can("read") && (response.text.includes(SECRET) || response.text.includes(SAVED_ANSWER)))
              findings.push(`${label} ${what}: read Alice's data: ${response.text.slice(0, 200)}`);
          }
          for (const [vendor, request] of requestsSoFar()) {
            for (const text of forbiddenIn(vendor))
              if (request.prompt.includes(text)) findings.push(`${label}: ${vendor} received ${text}`);
          }
          const simOutputs = (await cluster.database!.handle.db.select().from(tables.stepResults)).filter(
            (r) => r.provider === "sim" && !aliceFlows.includes(r.flowId),
          );
          for (const row of simOutputs)
            for (const text of forbiddenIn("sim"))
              if (row.output?.includes(text)) findings.push(`${label}: the sim received ${text}`);
          // A flow Bob was allowed to delete is gone: aim at those that remain.
          aliceFlows = after.flowIds.length > 0 ? after.flowIds : aliceFlows;
          return findings.length === 0;
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true, interruptAfterTimeLimit: 60_000 },
      )
      .catch((error: unknown) => findings.push(`seed ${SEED}: ${String(error).slice(0, 2_000)}`));
    expect(findings).toEqual([]);
    expect(reached.runs).toBeGreaterThan(0);
    expect(reached.requests).toBeGreaterThan(0);
    if (process.env.FUZZ_VERBOSE)
      console.log(`seed ${SEED}: ${RUNS} cases, ${reached.runs} runs started, ${reached.requests} vendor requests`);
    expect(
      cluster.processes.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null).map((p) => p.name),
    ).toEqual([]);
  });
});
