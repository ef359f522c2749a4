import { ProviderError } from "../errors/provider-error.js";
import { isRetryableCode, type ProviderErrorCode } from "../errors/provider-error-code.js";
import type { ProviderCallRequest } from "../provider-adapter.js";
import { readNumberParam, requireStringParam, simBadRequest, SIM_PROVIDER_KEY, type SimModel } from "./sim-model.js";

/** What the simulator does for one call, decided before any waiting. */
export type SimResponse =
  | { kind: "text"; text: string }
  | { kind: "error"; error: ProviderError }
  | { kind: "hang" }
  /** `count` deltas, each the provider clock's epoch ms when it is emitted (made at emission, not before). */
  | { kind: "clock"; count: number };

export interface SimBehaviour {
  /** Query parameters this behaviour reads, besides latencyMs and tokensPerSecond. */
  params: readonly string[];
  /** The latency (at least) when the model string gives none. */
  defaultLatencyMs?: number;
  respond(sim: SimModel, request: ProviderCallRequest): SimResponse;
}

/** Query parameters every behaviour accepts. */
export const SIM_COMMON_PARAMS = ["latencyMs", "tokensPerSecond"] as const;

/** What `slow` waits when its model string has no latencyMs. */
export const SIM_SLOW_DEFAULT_LATENCY_MS = 500;

// The error codes `fail` can simulate, with the HTTP status a vendor would send for each.
const FAIL_STATUSES: Partial<Record<ProviderErrorCode, number | undefined>> = {
  server_error: 500,
  rate_limited: 429,
  timeout: 408,
  connection_error: undefined,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  invalid_response: undefined,
};

function echo(request: ProviderCallRequest): SimResponse {
  let last = "";
  for (const message of request.messages) if (message.role === "user") last = message.content;
  return { kind: "text", text: `echo: ${last}` };
}

function score(sim: SimModel, request: ProviderCallRequest): SimResponse {
  const values = requireStringParam(sim, "values")
    .split(",")
    .map((v) => v.trim());
  const bad = values.find((v) => v === "" || !Number.isFinite(Number(v)));
  if (bad !== undefined) throw simBadRequest(sim.model, `values must be comma-separated numbers, got "${bad}"`);
  // Iterations are 1-based; a step outside a loop (iteration 0) gets the first value.
  const index = Math.min(Math.max(request.trace.iteration, 1) - 1, values.length - 1);
  return { kind: "text", text: `${values[index] as string}\nReasons: simulated evaluation` };
}

function fail(sim: SimModel, request: ProviderCallRequest): SimResponse {
  const times = readNumberParam(sim, "times", { integer: true }) ?? 1;
  const code = (sim.params.get("code") ?? "server_error") as ProviderErrorCode;
  if (!Object.hasOwn(FAIL_STATUSES, code)) {
    throw simBadRequest(sim.model, `code must be one of ${Object.keys(FAIL_STATUSES).join(", ")}, got "${code}"`);
  }
  const retryAfterMs = readNumberParam(sim, "retryAfterMs", { integer: true });
  if (request.trace.attempt >= times) return echo(request);
  const status = FAIL_STATUSES[code];
  const error = new ProviderError(
    `sim: simulated ${code} on attempt ${request.trace.attempt} (the first ${times} fail)`,
    {
      code,
      provider: SIM_PROVIDER_KEY,
      retryable: isRetryableCode(code),
      ...(status === undefined ? {} : { status }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    },
  );
  return { kind: "error", error };
}

/** The behaviours, by the name that starts the model string. */
export const SIM_BEHAVIOURS = {
  echo: { params: [], respond: (_sim, request) => echo(request) },
  text: { params: ["value"], respond: (sim) => ({ kind: "text", text: requireStringParam(sim, "value", true) }) },
  label: { params: ["value"], respond: (sim) => ({ kind: "text", text: requireStringParam(sim, "value") }) },
  score: { params: ["values"], respond: score },
  fail: { params: ["times", "code", "retryAfterMs"], respond: fail },
  hang: { params: [], respond: () => ({ kind: "hang" }) },
  slow: { params: [], defaultLatencyMs: SIM_SLOW_DEFAULT_LATENCY_MS, respond: (_sim, request) => echo(request) },
  clock: {
    params: ["tokens"],
    respond: (sim) => ({ kind: "clock", count: readNumberParam(sim, "tokens", { integer: true, min: 1 }) ?? 20 }),
  },
} as const satisfies Record<string, SimBehaviour>;

export type SimBehaviourName = keyof typeof SIM_BEHAVIOURS;

export const SIM_BEHAVIOUR_NAMES = Object.keys(SIM_BEHAVIOURS) as SimBehaviourName[];

/** The behaviour a model string names, with its query checked: typos fail loudly rather than being ignored. */
export function findSimBehaviour(sim: SimModel): SimBehaviour {
  if (!Object.hasOwn(SIM_BEHAVIOURS, sim.behaviour)) {
    throw simBadRequest(
      sim.model,
      `unknown sim behaviour "${sim.behaviour}"; valid behaviours: ${SIM_BEHAVIOUR_NAMES.join(", ")}`,
    );
  }
  const behaviour: SimBehaviour = SIM_BEHAVIOURS[sim.behaviour as SimBehaviourName];
  for (const name of sim.params.keys()) {
    if (!behaviour.params.includes(name) && !(SIM_COMMON_PARAMS as readonly string[]).includes(name)) {
      const allowed = [...behaviour.params, ...SIM_COMMON_PARAMS].join(", ");
      throw simBadRequest(sim.model, `unknown parameter "${name}" for ${sim.behaviour}; allowed: ${allowed}`);
    }
  }
  return behaviour;
}
