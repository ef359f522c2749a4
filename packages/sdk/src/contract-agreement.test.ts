import { apiContract, type ContractRoute, type FlowDefinitionInput, type ResponseBody } from "@ensemble/core";
import { EnsembleClient } from "./ensemble-client.js";

// Each SDK method against the route contract it calls: the request it sends (method and path)
// and, at compile time, the type it returns. A method that calls a path of its own, or whose
// result type no longer matches its route's response schema, fails here.

type Contract = typeof apiContract;
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;
type Returns<M extends keyof EnsembleClient> = EnsembleClient[M] extends (...args: never[]) => Promise<infer R>
  ? R
  : never;
type Answer<K extends keyof Contract, S extends keyof Contract[K]["responses"]> = ResponseBody<Contract[K], S>;
type Items<T> = T extends { items: infer I } ? I : never;

export type ReturnTypesAgree = [
  Expect<Equal<Returns<"createThread">, Answer<"createThread", 201>>>,
  Expect<Equal<Returns<"listThreads">, Answer<"listThreads", 200>>>,
  Expect<Equal<Returns<"getThread">, Answer<"getThread", 200>>>,
  Expect<Equal<Returns<"setThreadMember">, Answer<"putThreadMember", 200>>>,
  Expect<Equal<Returns<"addMessage">, Answer<"createMessage", 201>>>,
  Expect<Equal<Returns<"listMessages">, Items<Answer<"listMessages", 200>>>>,
  Expect<Equal<Returns<"setPolicy">, Answer<"putPolicy", 200>>>,
  Expect<Equal<Returns<"listPolicies">, Items<Answer<"listPolicies", 200>>>>,
  Expect<Equal<Returns<"createFlow">, Answer<"createFlow", 201>>>,
  Expect<Equal<Returns<"getFlow">, Answer<"getFlow", 200>>>,
  Expect<Equal<Returns<"listFlowSteps">, Answer<"listFlowSteps", 200>>>,
  Expect<Equal<Returns<"listFlows">, Answer<"listFlows", 200>>>,
  Expect<Equal<Returns<"executeFlow">, Answer<"executeFlow", 200>>>,
  Expect<Equal<Returns<"executeStep">, Answer<"executeStep", 200>>>,
  Expect<Equal<Returns<"approve">, Answer<"approveStep", 200>>>,
  Expect<Equal<Returns<"listApprovals">, Items<Answer<"listApprovals", 200>>>>,
  Expect<Equal<Returns<"getFlowStatus">, Answer<"getFlowStatus", 200>>>,
  Expect<Equal<Returns<"listRuns">, Items<Answer<"listRuns", 200>>>>,
  Expect<Equal<Returns<"getRun">, Answer<"getRun", 200>>>,
  Expect<Equal<Returns<"rerun">, Answer<"getRun", 200>>>,
  Expect<Equal<Returns<"createSchedule">, Answer<"createSchedule", 201>>>,
  Expect<Equal<Returns<"listSchedules">, Items<Answer<"listSchedules", 200>>>>,
  Expect<Equal<Returns<"getUsage">, Answer<"getUsage", 200>>>,
  // Narrower than the schema (a pair where the schema says an array of two): still the schema's.
  Expect<Returns<"compare"> extends Answer<"compareRuns", 200> ? true : false>,
  // Typed as core's template descriptions, which the contract's answer is.
  Expect<Items<Answer<"listTemplates", 200>> extends Returns<"listTemplates"> ? true : false>,
  // A definition as built is one a caller may send back.
  Expect<Answer<"buildTemplate", 200> extends FlowDefinitionInput ? true : false>,
];

/** A fetch that records each request and answers with what every caller here can read. */
function recordingClient(): { client: EnsembleClient; sent: string[] } {
  const sent: string[] = [];
  const answer = { items: [], run: 1, status: "completed", steps: [], stepId: "s 1" };
  const fetch = (url: string | URL | Request, init?: RequestInit) => {
    const href = url instanceof Request ? url.url : url.toString();
    sent.push(`${init?.method ?? "GET"} ${href.replace("http://api.test", "")}`);
    const noBody = init?.method === "DELETE";
    return Promise.resolve(new Response(noBody ? null : JSON.stringify(answer), { status: noBody ? 204 : 200 }));
  };
  return { client: new EnsembleClient({ baseUrl: "http://api.test", apiKey: "k", fetch }), sent };
}

/** The route's path as a pattern: each `{name}` one percent-encoded segment. */
function pattern(route: ContractRoute): RegExp {
  const path = route.path.replace(/\{[^}]+\}/g, "[^/?]+");
  return new RegExp(`^${route.method.toUpperCase()} ${path}(\\?|$)`);
}

const cases: [keyof Contract, string, (c: EnsembleClient) => Promise<unknown>][] = [
  ["createThread", "POST /v1/threads", (c) => c.createThread("t")],
  ["listThreads", "GET /v1/threads?limit=5", (c) => c.listThreads({ limit: 5 })],
  ["getThread", "GET /v1/threads/t%201", (c) => c.getThread("t 1")],
  ["putThreadMember", "PUT /v1/threads/t/members/u%2F1", (c) => c.setThreadMember("t", "u/1", ["read"])],
  ["createMessage", "POST /v1/threads/t/messages", (c) => c.addMessage("t", { role: "user", content: "hi" })],
  ["listMessages", "GET /v1/threads/t/messages", (c) => c.listMessages("t")],
  ["putPolicy", "PUT /v1/policies/openai", (c) => c.setPolicy("openai", policy)],
  ["listPolicies", "GET /v1/policies", (c) => c.listPolicies()],
  ["getFlow", "GET /v1/flows/f", (c) => c.getFlow("f")],
  ["listFlowSteps", "GET /v1/flows/f/steps?cursor=0.1", (c) => c.listFlowSteps("f", { cursor: "0.1" })],
  ["listFlows", "GET /v1/threads/t/flows?status=running", (c) => c.listFlows("t", { status: "running" })],
  ["deleteFlow", "DELETE /v1/flows/f", (c) => c.deleteFlow("f")],
  ["executeFlow", "POST /v1/flows/f/execute?wait=true", (c) => c.executeFlow("f", { input: "x" })],
  ["executeStep", "POST /v1/flows/f/steps/s%201/execute?wait=true", (c) => c.executeStep("f", "s 1")],
  ["cancelFlow", "POST /v1/flows/f/cancel", (c) => c.cancelFlow("f")],
  ["approveStep", "POST /v1/flows/f/steps/s/approve", (c) => c.approve("f", "s", { decision: "approve" })],
  ["listApprovals", "GET /v1/approvals?status=waiting&limit=3", (c) => c.listApprovals({ limit: 3 })],
  ["getFlowStatus", "GET /v1/flows/f/status", (c) => c.getFlowStatus("f")],
  ["listRuns", "GET /v1/flows/f/runs", (c) => c.listRuns("f")],
  ["getRun", "GET /v1/flows/f/runs/2", (c) => c.getRun("f", 2)],
  ["compareRuns", "GET /v1/flows/f/compare?runs=1%2C2", (c) => c.compare("f", 1, 2)],
  ["createSchedule", "POST /v1/flows/f/schedules", (c) => c.createSchedule("f", schedule)],
  ["listSchedules", "GET /v1/flows/f/schedules", (c) => c.listSchedules("f")],
  ["deleteSchedule", "DELETE /v1/flows/f/schedules/s", (c) => c.deleteSchedule("f", "s")],
  ["getUsage", "GET /v1/usage?groupBy=day", (c) => c.getUsage({ groupBy: "day" })],
  ["listTemplates", "GET /v1/templates", (c) => c.listTemplates()],
  ["buildTemplate", "POST /v1/templates/critique", (c) => c.buildTemplate("critique")],
];
const policy = { allowConversationHistory: true, allowCrossProviderContext: true, allowAttachments: false };
const schedule = { cron: "0 9 * * *", timezone: "UTC", input: "daily" };

describe("the SDK's requests are the route contract's", () => {
  it.each(cases)("%s: %s", async (operationId, request, callIt) => {
    const { client, sent } = recordingClient();
    await callIt(client);
    expect(sent).toEqual([request]);
    expect(request).toMatch(pattern(apiContract[operationId]));
  });
});
