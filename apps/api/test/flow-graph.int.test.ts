import { TestApi } from "./support/test-api.js";

jest.setTimeout(30_000);

const step = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  provider: "sim",
  model: "echo",
  action: "generate",
  prompt: "original",
  ...extra,
});

describe("GET /v1/flows/:flowId/graph", () => {
  let api: TestApi;
  let alice: { userId: string; key: string };
  let bob: { userId: string; key: string };
  let threadId: string;
  const graphOf = async (definition: unknown) => {
    const created = await api.request<{ id: string }>(alice.key, "POST", "/v1/flows", { threadId, definition });
    expect(created.status).toBe(201);
    return api.request<{ steps: { id: string; dependsOn: string[]; conditional: boolean }[]; loop: unknown }>(
      alice.key,
      "GET",
      `/v1/flows/${created.body.id}/graph`,
    );
  };

  beforeAll(async () => {
    api = await TestApi.start({ runFlows: false });
    [alice, bob] = [await api.createUser(), await api.createUser()];
    threadId = (await api.request<{ id: string }>(alice.key, "POST", "/v1/threads", { title: "graphs" })).body.id;
  });
  afterAll(async () => {
    await api?.stop();
  });

  it("resolves a parallel flow's presets: the aggregate step waits for every answer", async () => {
    const res = await graphOf({
      name: "fan",
      type: "parallel",
      steps: [step("a"), step("b"), step("c"), step("merge", { aggregate: true, action: "summarize" })],
    });
    expect(res.status).toBe(200);
    expect(res.body.steps.map((s) => [s.id, s.dependsOn])).toEqual([
      ["a", []],
      ["b", []],
      ["c", []],
      ["merge", ["a", "b", "c"]],
    ]);
    expect(res.body.loop).toBeNull();
  });

  it("resolves a sequential chain and marks guarded steps", async () => {
    const res = await graphOf({
      name: "route",
      type: "conditional",
      steps: [
        step("classify", { action: "analyze" }),
        step("tech", { condition: 'previous.contains("T")' }),
        step("art", { condition: 'previous.contains("A")' }),
      ],
    });
    expect(res.body.steps.map((s) => [s.id, s.dependsOn, s.conditional])).toEqual([
      ["classify", [], false],
      ["tech", ["classify"], true],
      ["art", ["classify"], true],
    ]);
  });

  it("is 404 for a user with no part in the flow", async () => {
    const created = await api.request<{ id: string }>(alice.key, "POST", "/v1/flows", {
      threadId,
      definition: { name: "x", type: "sequential", steps: [step("only")] },
    });
    expect((await api.request(bob.key, "GET", `/v1/flows/${created.body.id}/graph`)).status).toBe(404);
  });
});
