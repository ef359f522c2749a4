import { FlowStepResultSchema } from "@ensemble/core";
import { StepRunPayloadSchema } from "@ensemble/queue";
import type { z } from "zod";
import * as schemas from "@ensemble/core";
import { ErrorBody } from "../src/http/api-error.js";
import { TestApi } from "./support/test-api.js";

// Real Postgres, Redis and flows: slower than jest's 5 s default on a busy CI machine.
jest.setTimeout(30_000);

const ADMIN_TOKEN = "admin-token-for-ops-tests-0123456789";

const SIM_FLOW = {
  name: "Ops Pipeline",
  type: "sequential",
  steps: [
    { id: "draft", provider: "sim", model: "echo", action: "generate", prompt: "original" },
    { id: "polish", provider: "sim", model: "echo", action: "refine", prompt: "Polish: {{ previous }}" },
  ],
};

/** Parses a real response with the schema the OpenAPI document publishes for it. */
function expectShape(schema: z.ZodType, body: unknown): void {
  const result = schema.safeParse(body);
  if (!result.success)
    throw new Error(
      `response does not match its OpenAPI schema: ${JSON.stringify(result.error.issues)}\n${JSON.stringify(body)}`,
    );
}

describe("operations surface (ADMIN_TOKEN set)", () => {
  let api: TestApi;
  let key: string;

  beforeAll(async () => {
    // As behind a TLS-terminating proxy on this host (TRUST_PROXY=loopback).
    api = await TestApi.start({ adminToken: ADMIN_TOKEN, trustProxy: "loopback" });
    ({ key } = await api.createUser());
  });
  afterAll(async () => {
    await api?.stop();
  });

  describe("Bull Board", () => {
    it("answers 401 without the token, with a wrong token and with a malformed cookie", async () => {
      const attempts: Record<string, string>[] = [
        {},
        { authorization: "Bearer wrong-token-wrong-token" },
        { cookie: "ensemble_admin=%E0%A4%A" },
      ];
      for (const headers of attempts) {
        const res = await fetch(`${api.baseUrl}/admin/queues`, { headers });
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual({
          error: { code: "unauthorized", message: "admin token required", details: [] },
        });
      }
      expect((await fetch(`${api.baseUrl}/admin/queues/api/queues`)).status).toBe(401);
      expect((await fetch(`${api.baseUrl}/admin/login?token=nope`, { redirect: "manual" })).status).toBe(401);
    });

    it("serves the board and its JSON API to the bearer token", async () => {
      const page = await fetch(`${api.baseUrl}/admin/queues`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toMatch(/text\/html/);
      expect(await page.text()).toContain("Ensemble queues");

      const queues = await fetch(`${api.baseUrl}/admin/queues/api/queues`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(queues.status).toBe(200);
      const body = (await queues.json()) as { queues: { name: string }[] };
      // The catalog's queues, and one per provider of the provider catalog (this cluster serves sim).
      expect(body.queues.map((q) => q.name).sort()).toEqual(["flows", "steps", "steps-sim"]);
    });

    it("logs a browser in with /admin/login: an HttpOnly, SameSite=Strict cookie, then a redirect to the board", async () => {
      const login = await fetch(`${api.baseUrl}/admin/login?token=${encodeURIComponent(ADMIN_TOKEN)}`, {
        redirect: "manual",
      });
      expect(login.status).toBe(303);
      expect(login.headers.get("location")).toBe("/admin/queues");
      expect(login.headers.get("cache-control")).toBe("no-store");
      const cookie = login.headers.get("set-cookie") ?? "";
      expect(cookie).toMatch(/^ensemble_admin=/);
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Strict/i);
      expect(cookie).toMatch(/Path=\/admin/);

      const session = cookie.split(";")[0] as string;
      // A random session id, not the token.
      expect(session).not.toContain(ADMIN_TOKEN);
      expect(session).not.toContain(encodeURIComponent(ADMIN_TOKEN));
      const page = await fetch(`${api.baseUrl}/admin/queues`, { headers: { cookie: session } });
      expect(page.status).toBe(200);
      // The cookie is for the board only: /v1 still wants an API key, /v1/admin the bearer token.
      expect((await fetch(`${api.baseUrl}/v1/templates`, { headers: { cookie: session } })).status).toBe(401);
      const admin = await fetch(`${api.baseUrl}/v1/admin/users`, {
        method: "POST",
        headers: { cookie: session, "content-type": "application/json" },
        body: '{"name":"via cookie"}',
      });
      expect(admin.status).toBe(401);
      // Nor does the raw token work as a cookie any more.
      expect(
        (
          await fetch(`${api.baseUrl}/admin/queues`, {
            headers: { cookie: `ensemble_admin=${encodeURIComponent(ADMIN_TOKEN)}` },
          })
        ).status,
      ).toBe(401);

      // Logout ends the session on the server: the old cookie no longer opens the board.
      expect((await fetch(`${api.baseUrl}/admin/logout`, { headers: { cookie: session } })).status).toBe(200);
      expect((await fetch(`${api.baseUrl}/admin/queues`, { headers: { cookie: session } })).status).toBe(401);
    });

    it("marks the login cookie Secure when a trusted proxy (TRUST_PROXY) says the request came over HTTPS", async () => {
      const login = (headers: Record<string, string>): Promise<Response> =>
        fetch(`${api.baseUrl}/admin/login?token=${encodeURIComponent(ADMIN_TOKEN)}`, { redirect: "manual", headers });
      expect((await login({ "x-forwarded-proto": "https" })).headers.get("set-cookie")).toMatch(/;\s*Secure/i);
      expect((await login({})).headers.get("set-cookie")).not.toMatch(/;\s*Secure/i);
    });

    it("refuses Bull Board writes on the cookie unless they come from the board's own origin (CSRF)", async () => {
      const login = await fetch(`${api.baseUrl}/admin/login?token=${encodeURIComponent(ADMIN_TOKEN)}`, {
        redirect: "manual",
      });
      const session = (login.headers.get("set-cookie") ?? "").split(";")[0] as string;
      const host = new URL(api.baseUrl).host;
      const pause = (headers: Record<string, string>): Promise<Response> =>
        fetch(`${api.baseUrl}/admin/queues/api/queues/flows/pause`, {
          method: "PUT",
          headers: { cookie: session, ...headers },
        });
      const isPaused = async (): Promise<boolean> => {
        const res = await fetch(`${api.baseUrl}/admin/queues/api/queues`, { headers: { cookie: session } });
        return (
          ((await res.json()) as { queues: { name: string; isPaused: boolean }[] }).queues.find(
            (q) => q.name === "flows",
          )?.isPaused ?? false
        );
      };
      // A refused write that got through would pause the queue the later tests run flows on.
      const resumeFlows = (): Promise<Response> =>
        fetch(`${api.baseUrl}/admin/queues/api/queues/flows/resume`, {
          method: "PUT",
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
      const attempts: Record<string, string>[] = [
        {}, // no Origin, no Sec-Fetch-Site: not the board's page
        { "sec-fetch-site": "same-site" }, // a page on another port of this host
        { "sec-fetch-site": "cross-site" },
        { origin: "http://127.0.0.1:1" },
        { origin: "null" },
        { "sec-fetch-site": "same-site", origin: `http://${host}` },
      ];
      for (const headers of attempts) {
        const res = await pause(headers);
        if (res.status !== 403) await resumeFlows();
        expect([JSON.stringify(headers), res.status]).toEqual([JSON.stringify(headers), 403]);
        expect(await res.json()).toEqual({
          error: {
            code: "forbidden",
            message: expect.any(String),
            details: [{ path: "Origin", message: expect.any(String) }],
          },
        });
      }
      // A form or no-cors fetch from another port: a body of a simple type is refused anyway (415), so an empty one.
      const addJob = await fetch(`${api.baseUrl}/admin/queues/api/queues/flows/add`, {
        method: "POST",
        headers: { cookie: session, "sec-fetch-site": "same-site", origin: "http://127.0.0.1:1" },
      });
      expect(addJob.status).toBe(403);
      expect(await isPaused()).toBe(false);

      // What the board's own page sends, in browsers with and without Sec-Fetch-Site; and the bearer token needs neither.
      expect((await pause({ "sec-fetch-site": "same-origin", origin: `http://${host}` })).status).toBe(200);
      expect(await isPaused()).toBe(true);
      const resume = (headers: Record<string, string>): Promise<Response> =>
        fetch(`${api.baseUrl}/admin/queues/api/queues/flows/resume`, { method: "PUT", headers });
      expect((await resume({ cookie: session, origin: `http://${host}` })).status).toBe(200);
      expect((await pause({ authorization: `Bearer ${ADMIN_TOKEN}`, cookie: "" })).status).toBe(200);
      expect((await resume({ authorization: `Bearer ${ADMIN_TOKEN}` })).status).toBe(200);
      expect(await isPaused()).toBe(false);
    });

    it("names jobs for people (flow name › step) while job data holds ids and the label only", async () => {
      const canary = `canary-${Date.now()}-prompt-text`;
      await api.runFlow(key, SIM_FLOW, canary);
      const res = await fetch(
        `${api.baseUrl}/admin/queues/api/queues?activeQueue=steps-sim&status=completed&page=1&jobsPerPage=50`,
        { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
      );
      const text = await res.text();
      const steps = (
        JSON.parse(text) as {
          queues: { name: string; jobs: { name: string; data: Record<string, unknown>; returnValue: unknown }[] }[];
        }
      ).queues.find((q) => q.name === "steps-sim");
      const draft = steps?.jobs.find((j) => j.name === "step.run · Ops Pipeline › draft");
      // The worker went on with the run's next step inside the same job: its return value names it.
      expect(draft?.returnValue).toEqual({ result: "done", continuedWith: ["Ops Pipeline › polish"] });
      // Only the catalog's payload fields (ids, numbers, the label): the catalog strips anything else.
      const allowed = Object.keys(StepRunPayloadSchema.shape);
      for (const job of steps?.jobs ?? [])
        expect(Object.keys(job.data).filter((k) => !allowed.includes(k))).toEqual([]);
      expect(text).not.toContain(canary);
      expect(text).not.toContain(key);
      expect(text).not.toContain(ADMIN_TOKEN);
    });
  });

  describe("/metrics", () => {
    it("serves Prometheus text with queue depths, active flows, step metrics of sim and process metrics", async () => {
      await api.runFlow(key, SIM_FLOW, "count me");
      // The worker records after the commit, without waiting: give the MULTI a moment.
      let text = "";
      for (let i = 0; i < 50; i += 1) {
        const res = await fetch(`${api.baseUrl}/metrics`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
        text = await res.text();
        if (
          /ensemble_step_attempts_total\{provider="sim",model="echo",status="success"\} ([4-9]|\d\d+)/.test(text) &&
          /ensemble_flow_duration_seconds_count\{flow_type="sequential",status="completed"\} [1-9]/.test(text)
        )
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(text).toMatch(
        /ensemble_step_attempts_total\{provider="sim",model="echo",status="success"\} ([4-9]|\d\d+)/,
      );
      expect(text).toMatch(/^ensemble_queue_jobs\{queue="steps",state="waiting"\} \d+$/m);
      expect(text).toMatch(/^ensemble_queue_jobs\{queue="steps-sim",state="waiting"\} \d+$/m);
      expect(text).toMatch(/^ensemble_provider_live_workers\{provider="sim"\} 1$/m);
      expect(text).toMatch(/^ensemble_flows_ended\{status="completed"\} [1-9]\d*$/m);
      // This process's HTTP requests, by route pattern (never the ids in the path).
      expect(text).toMatch(
        /^ensemble_http_requests_total\{method="POST",route="\/v1\/flows\/:flowId\/execute",status="200"\} [1-9]/m,
      );
      expect(text).toMatch(
        /^ensemble_http_request_duration_seconds_count\{method="POST",route="\/v1\/flows",status="201"\} [1-9]/m,
      );
      expect(text).not.toMatch(/route="\/v1\/flows\/[0-9a-f]{8}/);
      expect(text).toMatch(/^ensemble_queue_jobs\{queue="flows",state="failed"\} \d+$/m);
      expect(text).toMatch(/^ensemble_flows\{status="running"\} \d+$/m);
      expect(text).toMatch(/^ensemble_step_duration_seconds_count\{provider="sim",model="echo"\} [1-9]\d*$/m);
      expect(text).toMatch(
        /^ensemble_step_duration_seconds_bucket\{provider="sim",model="echo",le="\+Inf"\} [1-9]\d*$/m,
      );
      // The run's duration, counted by the worker that committed its end.
      expect(text).toMatch(/^# TYPE ensemble_flow_duration_seconds histogram$/m);
      expect(text).toMatch(
        /^ensemble_flow_duration_seconds_bucket\{flow_type="sequential",status="completed",le="\+Inf"\} [1-9]\d*$/m,
      );
      expect(text).toMatch(
        /^ensemble_flow_duration_seconds_sum\{flow_type="sequential",status="completed"\} [\d.e-]+$/m,
      );
      expect(text).toMatch(/^ensemble_step_tokens_total\{provider="sim",model="echo",kind="prompt"\} [1-9]\d*$/m);
      expect(text).toMatch(/^ensemble_step_tokens_total\{provider="sim",model="echo",kind="completion"\} [1-9]\d*$/m);
      expect(text).toMatch(/^ensemble_metrics_source_up\{source="redis"\} 1$/m);
      expect(text).toMatch(/^ensemble_metrics_source_up\{source="postgres"\} 1$/m);
      expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
      expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    });
  });

  describe("request ids", () => {
    it("answers with the caller's X-Request-Id, or a new one", async () => {
      const mine = await fetch(`${api.baseUrl}/healthz`, { headers: { "x-request-id": "req-abc-123" } });
      expect(mine.headers.get("x-request-id")).toBe("req-abc-123");
      const fresh = await fetch(`${api.baseUrl}/healthz`, { headers: { "x-request-id": "bad id with spaces" } });
      expect(fresh.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe("/readyz", () => {
    it("is 200 with both checks up", async () => {
      const res = await fetch(`${api.baseUrl}/readyz`);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toEqual({ status: "ready", checks: { redis: true, postgres: true } });
      expectShape(schemas.ReadinessResponse, body);
    });
  });

  describe("responses match the schemas /openapi.json publishes", () => {
    it("threads, messages, policies, flows, execute, status, templates, errors", async () => {
      const thread = await api.request(key, "POST", "/v1/threads", { title: "shapes" });
      expectShape(schemas.ThreadResponse, thread.body);
      const threadId = thread.body.id as string;
      expectShape(
        schemas.MessageResponse,
        (await api.request(key, "POST", `/v1/threads/${threadId}/messages`, { role: "user", content: "hi" })).body,
      );
      expectShape(
        schemas.MessageListResponse,
        (await api.request(key, "GET", `/v1/threads/${threadId}/messages`)).body,
      );
      await api.request(key, "PUT", "/v1/policies/sim", {
        allowConversationHistory: true,
        allowCrossProviderContext: true,
        allowAttachments: false,
      });
      expectShape(schemas.PolicyListResponse, (await api.request(key, "GET", "/v1/policies")).body);

      const created = await api.request(key, "POST", "/v1/flows", { threadId, definition: SIM_FLOW });
      expect(created.status).toBe(201);
      expectShape(schemas.FlowResponse, created.body);
      const flowId = created.body.id as string;
      const accepted = await api.request(key, "POST", `/v1/flows/${flowId}/execute`, { input: "shape" });
      expect(accepted.status).toBe(202);
      expectShape(schemas.ExecuteAcceptedResponse, accepted.body);
      let status = await api.request(key, "GET", `/v1/flows/${flowId}/status`);
      for (let i = 0; i < 100 && status.body.status !== "completed"; i += 1) {
        await new Promise((r) => setTimeout(r, 50));
        status = await api.request(key, "GET", `/v1/flows/${flowId}/status`);
      }
      expectShape(schemas.FlowStatusResponse, status.body);
      const flow = await api.request(key, "GET", `/v1/flows/${flowId}`);
      expectShape(schemas.FlowResponse, flow.body);
      expect(flow.body.result).not.toBeNull();
      expectShape(schemas.FlowListResponse, (await api.request(key, "GET", `/v1/threads/${threadId}/flows`)).body);
      const step = await api.request(key, "POST", `/v1/flows/${flowId}/steps/draft/execute?wait=true`, {
        input: "one step",
      });
      expect(step.status).toBe(200);
      expectShape(FlowStepResultSchema, step.body);
      expectShape(schemas.TemplateListResponse, (await api.request(key, "GET", "/v1/templates")).body);
      expectShape(ErrorBody, (await api.request(key, "GET", "/v1/flows/nope")).body);
      expectShape(ErrorBody, (await api.request(key, "POST", "/v1/threads", { title: 5 })).body);
    });

    it("runs, rerun and compare", async () => {
      const threadId = (await api.request(key, "POST", "/v1/threads", { title: "run shapes" })).body.id as string;
      const flowId = (await api.request(key, "POST", "/v1/flows", { threadId, definition: SIM_FLOW })).body
        .id as string;
      expect((await api.request(key, "POST", `/v1/flows/${flowId}/execute?wait=true`, { input: "one" })).status).toBe(
        200,
      );
      const fromStep = SIM_FLOW.steps.at(-1)!.id;
      const rerun = await api.request(key, "POST", `/v1/flows/${flowId}/runs/1/rerun`, { fromStep });
      expect(rerun.status).toBe(202);
      expectShape(schemas.RerunAcceptedResponse, rerun.body);
      let run = await api.request(key, "GET", `/v1/flows/${flowId}/runs/2`);
      for (let i = 0; i < 100 && run.body.status !== "completed"; i += 1) {
        await new Promise((r) => setTimeout(r, 50));
        run = await api.request(key, "GET", `/v1/flows/${flowId}/runs/2`);
      }
      expectShape(schemas.RunDetailResponse, run.body);
      expect(run.body.status).toBe("completed");
      expectShape(schemas.RunListResponse, (await api.request(key, "GET", `/v1/flows/${flowId}/runs`)).body);
      expectShape(
        schemas.RunComparisonResponse,
        (await api.request(key, "GET", `/v1/flows/${flowId}/compare?runs=1,2`)).body,
      );
    });
  });
});

describe("operations surface without ADMIN_TOKEN", () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await TestApi.start({ runFlows: false });
  });
  afterAll(async () => {
    await api?.stop();
  });

  it("has no Bull Board and no login (404)", async () => {
    for (const path of ["/admin/queues", "/admin/queues/api/queues", "/admin/login?token=anything-at-all-123"]) {
      const res = await fetch(`${api.baseUrl}${path}`, {
        headers: { authorization: "Bearer anything-at-all-123" },
        redirect: "manual",
      });
      expect(res.status).toBe(404);
    }
  });

  it("serves /openapi.json", async () => {
    const res = await fetch(`${api.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    expect(((await res.json()) as { openapi: string }).openapi).toBe("3.1.0");
  });
});
