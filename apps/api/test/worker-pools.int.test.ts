import {
  createEngine,
  createLogger,
  startScheduler,
  startStepWorker,
  type Engine,
  type Runtime,
  type StepWorkerRuntime,
} from "@ensemble/engine";
import { listRunSteps, registerProviderWorker, removeProviderWorker } from "@ensemble/db";
import { startFakeVendors, type FakeVendors } from "@ensemble/providers/testing";
import { REDIS_URL, TestApi } from "./support/test-api.js";

jest.setTimeout(60_000);

// Pools: each step runs on a worker serving its provider, wherever the run's other steps ran.
// The API here runs no worker; each "pool" is an engine of its own (its own worker id), as a
// separate worker process would be.
let api: TestApi;
let vendors: FakeVendors;
let key: string;
const pools: { engine: Engine; worker: StepWorkerRuntime }[] = [];

async function startPool(
  providers: string[],
  models?: Record<string, string[]>,
): Promise<{ engine: Engine; worker: StepWorkerRuntime }> {
  const engine = await createEngine({
    redisUrl: REDIS_URL,
    databaseUrl: api.database.url,
    queuePrefix: api.prefix,
    logger: createLogger({ level: process.env.LOG_LEVEL ?? "silent", name: `pool-${providers.join("-")}` }),
    databasePoolSize: 2,
    providerEnv: vendors.env,
    settings: { stepLeaseMs: 5_000 },
  });
  let worker: StepWorkerRuntime;
  try {
    worker = await startStepWorker(engine.deps, {
      connection: engine.workerConnection("worker"),
      prefix: api.prefix,
      concurrency: 4,
      providers,
      ...(models ? { models } : {}),
    });
  } catch (err) {
    await engine.close();
    throw err;
  }
  const pool = { engine, worker };
  pools.push(pool);
  return pool;
}

async function stopPool(pool: { engine: Engine; worker: StepWorkerRuntime }): Promise<void> {
  pools.splice(pools.indexOf(pool), 1);
  await pool.worker.close();
  await pool.engine.close();
}

async function createFlow(definition: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const thread = await api.request<{ id: string }>(key, "POST", "/v1/threads", { title: "pools" });
  return api.request(key, "POST", "/v1/flows", { threadId: thread.body.id, definition });
}

interface ProviderItem {
  key: string;
  queue: string;
  liveWorkers: number;
  workers: { id: string }[];
  models: string[] | null;
}

beforeAll(async () => {
  vendors = await startFakeVendors({ chunkDelayMs: 0 });
  // runFlows: false — a scheduler still runs (flows start), but no step worker: pools come below.
  api = await TestApi.start({ runFlows: false });
  ({ key } = await api.createUser());
  scheduler = await startScheduler(api.engine.deps, {
    connection: api.engine.workerConnection("scheduler"),
    prefix: api.prefix,
    sweepEveryMs: 60_000,
  });
});

let scheduler: Runtime | undefined;
afterAll(async () => {
  for (const pool of [...pools]) await stopPool(pool);
  await scheduler?.close();
  await api?.stop();
  await vendors?.close();
});

describe("worker pools", () => {
  it("lists the catalog's providers and live workers, with no secrets", async () => {
    const pool = await startPool(["openai"]);
    const res = await api.request<{ items: ProviderItem[] }>(key, "GET", "/v1/providers");
    expect(res.status).toBe(200);
    const openai = res.body.items.find((p) => p.key === "openai");
    expect(openai).toMatchObject({ key: "openai", queue: "steps-openai", liveWorkers: 1, models: null });
    expect(openai?.workers.map((w) => w.id)).toEqual([pool.engine.deps.workerId]);
    // sim is known (registered without a worker by TestApi): a pool scaled to zero.
    expect(res.body.items.find((p) => p.key === "sim")).toMatchObject({ liveWorkers: 0, queue: "steps-sim" });
    expect(JSON.stringify(res.body)).not.toContain(vendors.env.OPENAI_API_KEY);
    expect(JSON.stringify(res.body)).not.toContain(vendors.env.OPENAI_BASE_URL);

    await stopPool(pool);
    const after = await api.request<{ items: ProviderItem[] }>(key, "GET", "/v1/providers");
    expect(after.body.items.find((p) => p.key === "openai")).toMatchObject({ liveWorkers: 0, workers: [] });
  });

  it("refuses a flow naming a provider the cluster does not serve, naming the field and the providers served", async () => {
    const res = await createFlow({
      name: "unknown provider",
      type: "sequential",
      steps: [
        { id: "a", provider: "sim", model: "echo", action: "generate", prompt: "original" },
        {
          id: "b",
          provider: "mistral",
          model: "large",
          action: "generate",
          prompt: "previous",
          fallbacks: [{ provider: "cohere", model: "command" }],
        },
      ],
    });
    expect(res.status).toBe(400);
    const error = res.body.error as { code: string; details: { path: string; message: string }[] };
    expect(error.code).toBe("validation_error");
    expect(error.details.map((d) => d.path)).toEqual([
      "definition.steps[1].provider",
      "definition.steps[1].fallbacks[0].provider",
    ]);
    expect(error.details[0]?.message).toMatch(/"mistral" is not served by this cluster \(served: .*openai.*sim/);
  });

  it("accepts and queues a flow for a known provider with no live worker; a pool started later runs it", async () => {
    await registerProviderWorker(api.engine.deps.db, "gone", [{ key: "google", models: null, limits: {} }]);
    await removeProviderWorker(api.engine.deps.db, "gone");
    const flow = await createFlow({
      name: "scaled to zero",
      type: "sequential",
      steps: [{ id: "only", provider: "google", model: "gemini-2.5-flash", action: "generate", prompt: "original" }],
    });
    expect(flow.status).toBe(201);
    const flowId = flow.body.id as string;
    const run = await api.request(key, "POST", `/v1/flows/${flowId}/execute`, { input: "hello" });
    expect(run.status).toBe(202);
    await waitFor(
      async () => (await api.engine.deps.producer.queueDepths(["google"]))["steps-google"]?.waiting === 1,
      "the step to wait in steps-google",
    );
    await startPool(["google"]);
    await api.waitForFlowStatus(flowId, ["completed"]);
  });

  it("sends each step, and a fallback attempt, to its own provider's pool", async () => {
    const simPool = await startPool(["sim"]);
    const openaiPool = await startPool(["openai"]);
    const anthropicPool = await startPool(["anthropic"]);
    // anthropic is unavailable (retryable, no retries left): the step's fallback attempt goes to the sim pool.
    vendors.anthropic.script({ status: 503, errorMessage: "overloaded" });
    const flow = await createFlow({
      name: "across pools",
      type: "sequential",
      steps: [
        { id: "one", provider: "sim", model: "echo", action: "generate", prompt: "original" },
        { id: "two", provider: "openai", model: "gpt-4o", action: "generate", prompt: "previous" },
        {
          id: "three",
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          action: "generate",
          prompt: "previous",
          fallbacks: [{ provider: "sim", model: "echo" }],
        },
        { id: "four", provider: "sim", model: "echo", action: "generate", prompt: "previous" },
      ],
    });
    expect(flow.status).toBe(201);
    const flowId = flow.body.id as string;
    const run = await api.request(key, "POST", `/v1/flows/${flowId}/execute?wait=true`, { input: "hi" });
    expect(run.status).toBe(200);
    expect(run.body.status).toBe("completed");

    const steps = await listRunSteps(api.engine.deps.db, flowId, 1);
    const ranBy = Object.fromEntries(steps.map((s) => [s.stepId, [s.provider, s.leaseOwner]]));
    expect(ranBy).toEqual({
      one: ["sim", simPool.engine.deps.workerId],
      two: ["openai", openaiPool.engine.deps.workerId],
      three: ["sim", simPool.engine.deps.workerId],
      four: ["sim", simPool.engine.deps.workerId],
    });
    expect(steps.find((s) => s.stepId === "three")?.attempt).toBe(1);
    expect(vendors.anthropic.requests).toHaveLength(1);
    for (const pool of [simPool, openaiPool, anthropicPool]) await stopPool(pool);
  });

  it("drains step jobs left in the plain steps queue by a release before pools", async () => {
    const flow = await createFlow({
      name: "legacy",
      type: "sequential",
      steps: [{ id: "only", provider: "sim", model: "echo", action: "generate", prompt: "original" }],
    });
    const flowId = flow.body.id as string;
    await api.request(key, "POST", `/v1/flows/${flowId}/execute`, { input: "old" });
    // No sim worker: the step waits in steps-sim. Put it back where the old release queued it.
    const { producer } = api.engine.deps;
    await waitFor(async () => (await producer.queueDepths(["sim"]))["steps-sim"]?.waiting === 1, "the sim step");
    const simQueue = producer.getQueues(["sim"]).find((q) => q.name === "steps-sim")!;
    // Ranked for fair sharing, it waits among the prioritized jobs.
    const [job] = await simQueue.getJobs(["prioritized"]);
    await job!.remove();
    // That release's payload named no provider, model or user.
    const { provider: _p, model: _m, dispatch: _d, ...legacy } = job!.data as Record<string, unknown>;
    const moved = await producer.add("step.run", legacy as never);
    expect(moved.queue).toBe("steps");

    // A worker that does not serve sim moves it to steps-sim; a sim worker then runs it.
    const openaiPool = await startPool(["openai"]);
    await waitFor(async () => (await producer.queueDepths(["sim"]))["steps-sim"]?.waiting === 1, "the job moved");
    expect((await producer.queueDepths()).steps).toMatchObject({ waiting: 0, active: 0 });
    const simPool = await startPool(["sim"]);
    await api.waitForFlowStatus(flowId, ["completed"]);
    await stopPool(openaiPool);
    await stopPool(simPool);
  });

  it("never calls a model outside the worker's allowlist: the attempt fails model_not_allowed and the step moves to its fallback", async () => {
    // Accepted while the openai pool allowed any model (scaled to zero now), then run by a
    // pool whose allowlist has changed.
    const flow = await createFlow({
      name: "allowlist",
      type: "sequential",
      steps: [
        {
          id: "a",
          provider: "openai",
          model: "gpt-4o",
          action: "generate",
          prompt: "original",
          fallbacks: [{ provider: "sim", model: "echo" }],
        },
      ],
    });
    expect(flow.status).toBe(201);
    const flowId = flow.body.id as string;
    expect((await api.request(key, "POST", `/v1/flows/${flowId}/execute`, { input: "hi" })).status).toBe(202);
    const openaiRequests = vendors.openai.requests.length;
    const openaiPool = await startPool(["openai"], { openai: ["gpt-4o-mini"] });
    const simPool = await startPool(["sim"]);
    await api.waitForFlowStatus(flowId, ["completed", "failed"]);

    const steps = await listRunSteps(api.engine.deps.db, flowId, 1);
    expect(steps.map((s) => [s.stepId, s.status, s.provider, s.attempt])).toEqual([["a", "success", "sim", 1]]);
    expect(vendors.openai.requests).toHaveLength(openaiRequests);
    const events = await api.engine.deps.bus.readAfter(flowId, 0);
    const refused = events.find((e) => e.type === "error");
    expect(refused?.data).toMatchObject({
      attempt: 0,
      error: { code: "model_not_allowed", message: expect.stringContaining('"gpt-4o"') },
    });
    await stopPool(openaiPool);
    await stopPool(simPool);
  });

  it("refuses to start a worker for a provider it has not configured", async () => {
    await expect(startPool(["ollama"])).rejects.toThrow(/WORKER_PROVIDERS names ollama/);
  });
});

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
