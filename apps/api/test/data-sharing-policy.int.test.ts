import { randomUUID } from "node:crypto";
import { findFlow, listLedger } from "@ensemble/db";
import { startFakeVendors, type FakeVendors } from "@ensemble/providers/testing";
import { TestApi } from "./support/test-api.js";

// Whose data-sharing policies apply to a run, and who may read what a run returns.
// Alice owns a thread; Bob is a member. What reaches a provider is what the fake vendor
// servers received.

jest.setTimeout(30_000);

type User = { userId: string; key: string };
type Body = { error?: { code: string; message: string; details: Record<string, unknown>[] } } & Record<string, unknown>;

const DENY_HISTORY = { allowConversationHistory: false, allowCrossProviderContext: true, allowAttachments: false };
const DENY_CROSS_PROVIDER = {
  allowConversationHistory: true,
  allowCrossProviderContext: false,
  allowAttachments: false,
};
const ALLOW_ALL = { allowConversationHistory: true, allowCrossProviderContext: true, allowAttachments: false };

const openaiStep = (prompt: string) => ({
  id: "ask",
  provider: "openai",
  model: "gpt-4o-mini",
  action: "generate",
  prompt,
});
const historyFlow = (prompt = "Given {{ history }}, answer {{ original }}") => ({
  name: "history",
  type: "sequential",
  contextPolicy: { shareConversationHistory: true },
  steps: [openaiStep(prompt)],
});
const plainFlow = { name: "plain", type: "sequential", steps: [openaiStep("{{ original }}")] };

describe("data-sharing policies and read permission when a member runs the owner's thread", () => {
  let vendors: FakeVendors;
  let api: TestApi;
  let alice: User;
  let bob: User;

  beforeAll(async () => {
    vendors = await startFakeVendors({ chunkDelayMs: 0 });
    api = await TestApi.start({ providerEnv: vendors.env });
    [alice, bob] = await Promise.all([api.createUser(), api.createUser()]);
  });
  afterAll(async () => {
    await api?.stop();
    await vendors?.close();
  });
  beforeEach(() => vendors.reset());

  /** Alice's thread holding a secret she wrote, with Bob a member with `permissions`. */
  async function aliceThread(permissions: string[]): Promise<{ threadId: string; secret: string }> {
    const thread = await api.request<{ id: string }>(alice.key, "POST", "/v1/threads", { title: "alice's" });
    const secret = `alice-secret-${randomUUID()}`;
    expect(
      (
        await api.request(alice.key, "POST", `/v1/threads/${thread.body.id}/messages`, {
          role: "user",
          content: secret,
        })
      ).status,
    ).toBe(201);
    expect(
      (await api.request(alice.key, "PUT", `/v1/threads/${thread.body.id}/members/${bob.userId}`, { permissions }))
        .status,
    ).toBe(200);
    return { threadId: thread.body.id, secret };
  }

  async function createFlow(
    user: User,
    threadId: string,
    definition: unknown,
  ): Promise<{ status: number; body: Body }> {
    return api.request<Body>(user.key, "POST", "/v1/flows", { threadId, definition });
  }

  async function setPolicy(user: User, provider: string, policy: typeof ALLOW_ALL): Promise<void> {
    expect((await api.request(user.key, "PUT", `/v1/policies/${provider}`, policy)).status).toBe(200);
  }

  const openaiSaw = (text: string): boolean => vendors.openai.requests.some((r) => r.prompt.includes(text));

  afterEach(async () => {
    await Promise.all([alice, bob].flatMap((u) => ["openai", "google"].map((p) => setPolicy(u, p, ALLOW_ALL))));
  });

  describe("item 5: the owner's and the executor's policies both apply", () => {
    it("refuses a member's {{ history }} flow for a provider the thread's owner forbids history", async () => {
      const { threadId } = await aliceThread(["read", "write"]);
      await setPolicy(alice, "openai", DENY_HISTORY);
      const created = await createFlow(bob, threadId, historyFlow());
      expect(created.status).toBe(403);
      expect(created.body.error?.code).toBe("policy_violation");
      expect(created.body.error?.details).toEqual([
        expect.objectContaining({
          path: "definition.steps[0]",
          provider: "openai",
          setting: "allowConversationHistory",
        }),
      ]);
    });

    it("refuses a member's flow that would send another provider's step output where the owner forbids it", async () => {
      const { threadId } = await aliceThread(["read", "write"]);
      await setPolicy(alice, "openai", DENY_CROSS_PROVIDER);
      const created = await createFlow(bob, threadId, {
        name: "cross",
        type: "sequential",
        steps: [
          { id: "draft", provider: "google", model: "gemini-2.5-flash", action: "generate", prompt: "{{ original }}" },
          openaiStep("Improve {{ previous }}"),
        ],
      });
      expect(created.status).toBe(403);
      expect(created.body.error?.details).toEqual([
        expect.objectContaining({
          path: "definition.steps[1]",
          provider: "openai",
          setting: "allowCrossProviderContext",
        }),
      ]);
    });

    it("refuses at execute when the owner forbade history after the member created the flow; nothing reaches the provider", async () => {
      const { threadId, secret } = await aliceThread(["read", "write"]);
      const created = await createFlow(bob, threadId, historyFlow());
      expect(created.status).toBe(201);
      await setPolicy(alice, "openai", DENY_HISTORY);
      const run = await api.request<Body>(bob.key, "POST", `/v1/flows/${created.body.id as string}/execute?wait=true`, {
        input: "what did alice say?",
      });
      expect(run.status).toBe(403);
      expect(run.body.error?.code).toBe("policy_violation");
      expect(openaiSaw(secret)).toBe(false);
      expect((await findFlow(api.engine.deps.db, created.body.id as string))?.status).toBe("pending");
    });

    it("leaves the owner's history out of a member's run when only the context policy shares it", async () => {
      const { threadId, secret } = await aliceThread(["read", "write"]);
      await setPolicy(alice, "openai", DENY_HISTORY);
      const created = await createFlow(bob, threadId, historyFlow("Answer {{ original }}"));
      expect(created.status).toBe(201);
      const run = await api.request<Body>(bob.key, "POST", `/v1/flows/${created.body.id as string}/execute?wait=true`, {
        input: "what did alice say?",
      });
      expect(run.status).toBe(200);
      expect(run.body.status).toBe("completed");
      expect(vendors.openai.requests).toHaveLength(1);
      expect(openaiSaw("what did alice say?")).toBe(true);
      expect(openaiSaw(secret)).toBe(false);
    });

    it("applies the executor's policy to the owner's flow too, and bills the executor", async () => {
      const { threadId } = await aliceThread(["read", "write"]);
      const flow = await createFlow(alice, threadId, historyFlow());
      expect(flow.status).toBe(201);
      await setPolicy(bob, "openai", DENY_HISTORY);
      const refused = await api.request<Body>(bob.key, "POST", `/v1/flows/${flow.body.id as string}/execute`, {
        input: "go",
      });
      expect(refused.status).toBe(403);
      expect(refused.body.error?.code).toBe("policy_violation");

      const plain = await createFlow(alice, threadId, plainFlow);
      const run = await api.request<Body>(bob.key, "POST", `/v1/flows/${plain.body.id as string}/execute?wait=true`, {
        input: "on bob's account",
      });
      expect(run.body.status).toBe("completed");
      const ledger = await listLedger(api.engine.deps.db, plain.body.id as string);
      expect(ledger.map((row) => row.userId)).toEqual([bob.userId]);
      expect((await findFlow(api.engine.deps.db, plain.body.id as string))?.executedBy).toBe(bob.userId);
    });

    it("does not send another provider's saved answers from history when cross-provider context is off", async () => {
      const { threadId, secret } = await aliceThread(["read", "write"]);
      // A Gemini answer saved to the thread: the fake answers "Reply from <model>: <prompt>".
      const saved = await createFlow(alice, threadId, {
        name: "gemini",
        type: "sequential",
        steps: [
          { id: "g", provider: "google", model: "gemini-2.5-flash", action: "generate", prompt: "{{ original }}" },
        ],
      });
      const savedRun = await api.request<Body>(
        alice.key,
        "POST",
        `/v1/flows/${saved.body.id as string}/execute?wait=true`,
        { input: "gemini-only-words", saveMessages: true },
      );
      expect(savedRun.body.status).toBe("completed");
      await setPolicy(alice, "openai", DENY_CROSS_PROVIDER);

      const flow = await createFlow(bob, threadId, historyFlow());
      expect(flow.status).toBe(201);
      const run = await api.request<Body>(bob.key, "POST", `/v1/flows/${flow.body.id as string}/execute?wait=true`, {
        input: "q",
      });
      expect(run.body.status).toBe("completed");
      expect(openaiSaw(secret)).toBe(true); // what a user wrote is no provider's output
      expect(openaiSaw("gemini-only-words")).toBe(false);
    });
  });

  describe("item 6: reading what a run returns needs read", () => {
    it("refuses a write-only member ?wait=true, naming read, and starts no run", async () => {
      const { threadId, secret } = await aliceThread(["write"]);
      const flow = await createFlow(alice, threadId, plainFlow);
      const run = await api.request<Body>(bob.key, "POST", `/v1/flows/${flow.body.id as string}/execute?wait=true`, {
        input: "x",
      });
      expect(run.status).toBe(403);
      expect(run.body.error).toMatchObject({ code: "forbidden", message: expect.stringContaining("read permission") });
      expect(run.body.error?.details).toEqual([expect.objectContaining({ permission: "read" })]);
      const step = await api.request<Body>(
        bob.key,
        "POST",
        `/v1/flows/${flow.body.id as string}/steps/ask/execute?wait=true`,
        { input: "x" },
      );
      expect(step.status).toBe(403);
      expect(step.body.error?.details).toEqual([expect.objectContaining({ permission: "read" })]);
      expect((await findFlow(api.engine.deps.db, flow.body.id as string))?.run).toBe(0);
      expect(openaiSaw(secret)).toBe(false);
    });

    it("refuses a write-only member executing a flow that shares history, with or without wait", async () => {
      const { threadId, secret } = await aliceThread(["write"]);
      const flow = await createFlow(alice, threadId, historyFlow());
      const run = await api.request<Body>(bob.key, "POST", `/v1/flows/${flow.body.id as string}/execute`, {
        input: "x",
      });
      expect(run.status).toBe(403);
      expect(run.body.error?.details).toEqual([
        { permission: "read", reason: expect.stringContaining("shareConversationHistory") },
      ]);
      expect((await findFlow(api.engine.deps.db, flow.body.id as string))?.run).toBe(0);
      expect(openaiSaw(secret)).toBe(false);
    });

    it("lets a write-only member execute a flow that reads no history, and answers 403 naming read for its results", async () => {
      const { threadId } = await aliceThread(["write"]);
      const flow = await createFlow(alice, threadId, plainFlow);
      const id = flow.body.id as string;
      expect((await api.request(bob.key, "POST", `/v1/flows/${id}/execute`, { input: "fire and forget" })).status).toBe(
        202,
      );
      for (const path of [
        `/v1/flows/${id}`,
        `/v1/flows/${id}/status`,
        `/v1/flows/${id}/events`,
        `/v1/threads/${threadId}/messages`,
      ]) {
        const read = await api.request<Body>(bob.key, "GET", path);
        expect({ path, status: read.status, details: read.body.error?.details }).toEqual({
          path,
          status: 403,
          details: [{ permission: "read" }],
        });
      }
      await api.waitForFlowStatus(id, ["completed"]);
    });
  });
});
