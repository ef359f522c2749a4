import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { EnsembleClient } from "./ensemble-client.js";

const step = (stepId: string) => ({
  stepId,
  status: "success",
  output: `out ${stepId}`,
  provider: "sim",
  model: "echo",
  action: "generate",
  iteration: 0,
  usage: null,
  cost: null,
  retryCount: 0,
  startedAt: null,
  completedAt: null,
});

describe("iterateFlowSteps", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  });

  it("follows nextCursor through GET /v1/flows/:flowId/steps until it is null, passing limit on", async () => {
    const requests: IncomingMessage[] = [];
    server = createServer((req, res) => {
      requests.push(req);
      const cursor = new URL(req.url ?? "/", "http://x").searchParams.get("cursor");
      const page =
        cursor === null
          ? { items: [step("a"), step("b")], nextCursor: "0.1" }
          : { items: [step("c")], nextCursor: null };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ flowId: "f 1", run: 1, ...page }));
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const client = new EnsembleClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      apiKey: "ens_k",
    });
    const seen: string[] = [];
    for await (const result of client.iterateFlowSteps("f 1", { limit: 2 })) seen.push(result.stepId);
    expect(seen).toEqual(["a", "b", "c"]);
    expect(requests.map((r) => r.url)).toEqual([
      "/v1/flows/f%201/steps?limit=2",
      "/v1/flows/f%201/steps?cursor=0.1&limit=2",
    ]);
  });
});
