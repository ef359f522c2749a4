import { ApiClient, simStep } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";

/** `pnpm start`: API, scheduler and worker in one process on embedded PGlite (no DATABASE_URL). */
describe("all-in-one mode on embedded PGlite", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({ allInOne: true });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("runs a conditional flow end to end", async () => {
    const api = new ApiClient(cluster.baseUrl);
    const threadId = await api.createThread();
    const flowId = await api.createFlow(threadId, {
      name: "route",
      type: "conditional",
      steps: [
        simStep("classify", { model: "label?value=CREATIVE" }),
        simStep("technical", { prompt: "original", condition: 'previous.contains("TECHNICAL")' }),
        simStep("creative", { prompt: "original", condition: 'previous.contains("CREATIVE")' }),
      ],
    });
    const res = await api.execute(flowId, { input: "write a poem", saveMessages: true }, true);
    expect(res.body).toMatchObject({ status: "completed", finalOutput: "echo: write a poem" });
    const messages = await api.request<{ items: { metadata: Record<string, unknown> }[] }>(
      "GET",
      `/v1/threads/${threadId}/messages`,
    );
    expect(messages.body.items.map((m) => m.metadata.stepId)).toEqual(["classify", "creative"]);
  });
});
