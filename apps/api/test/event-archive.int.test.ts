import { randomUUID } from "node:crypto";
import { listFlowEvents } from "@ensemble/db";
import { archiveDueFlows } from "@ensemble/engine";
import { TestApi } from "./support/test-api.js";

/**
 * The batched archive (`flow.archive-due`) on real Redis and Postgres: events with text
 * Postgres cannot hold are stored with U+FFFD, and a flow whose rows the database refuses
 * is left out on its own, logged by id, without failing the other flows of its batch.
 */
describe("event archive batches", () => {
  let api: TestApi;
  let owner: { userId: string; key: string };

  beforeAll(async () => {
    api = await TestApi.start({ runFlows: false }); // no scheduler: this test runs the archive itself
    owner = await api.createUser();
  });
  afterAll(() => api?.stop());

  const createFlow = async (): Promise<string> => {
    const thread = await api.request<{ id: string }>(owner.key, "POST", "/v1/threads", { title: "archive" });
    const definition = {
      name: "a",
      type: "sequential",
      steps: [{ id: "a", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" }],
    };
    return (await api.request<{ id: string }>(owner.key, "POST", "/v1/flows", { threadId: thread.body.id, definition }))
      .body.id;
  };

  it("stores NUL and lone surrogates as U+FFFD, and archives the rest of a batch around a flow the database refuses", async () => {
    const { deps } = api.engine;
    const [poisoned, healthy] = await Promise.all([createFlow(), createFlow()]);
    const deleted = randomUUID(); // a flow deleted after its run ended: its events break the foreign key
    const completed = { iteration: 0, attempt: 0, provider: "sim", model: "echo", usage: null, cost: null };
    // An extra key with a NUL in its name: data is stored as it reached the stream.
    const poisonedData = { ...completed, output: "x\u0000y \uD800", "k\u0000": ["\uDC00"] };
    await deps.bus.publish(poisoned, "step_complete", { stepId: "a", data: poisonedData });
    await deps.bus.publish(deleted, "step_complete", {
      stepId: "a",
      data: { ...completed, output: "deleted-flow-private-output" },
    });
    await deps.bus.publish(healthy, "flow_complete", {
      data: { status: "completed", finalOutput: "healthy-flow-private-output", totalCost: 0, totalTokens: 0 },
    });
    await deps.archives.add([poisoned, deleted, healthy], Date.now() - 1);
    const logged: unknown[] = [];
    const error = jest.spyOn(deps.logger, "error").mockImplementation((...args: unknown[]) => void logged.push(args));
    try {
      expect(await archiveDueFlows(deps)).toBe(3);
    } finally {
      error.mockRestore();
    }

    const [poisonedRows, healthyRows, deletedRows] = await Promise.all([
      listFlowEvents(deps.db, poisoned),
      listFlowEvents(deps.db, healthy),
      listFlowEvents(deps.db, deleted),
    ]);
    expect(poisonedRows.map((r) => r.data)).toEqual([
      { ...completed, output: "x\uFFFDy \uFFFD", "k\uFFFD": ["\uFFFD"] },
    ]);
    expect(healthyRows.map((r) => r.data)).toEqual([
      { status: "completed", finalOutput: "healthy-flow-private-output", totalCost: 0, totalTokens: 0 },
    ]);
    expect(deletedRows).toEqual([]);
    // Recorded by flow id and SQLSTATE, quoting no row; and given up, not retried every second.
    expect(logged).toEqual([
      [
        { flowId: deleted, code: "23503", reason: expect.any(String) },
        "flow events not archived: the database refused them",
      ],
    ]);
    expect(JSON.stringify(logged)).not.toContain("private-output");
    expect(await deps.archives.due(Date.now(), 10)).toEqual([]);
    await waitFor(
      async () => (await deps.metrics?.snapshot())?.archiveFailures === 1,
      "ensemble_event_archive_failures_total to count the flow",
    );
  });
});

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
