import { ProviderError } from "../errors/provider-error.js";

/** The sim provider's key, as flow steps name it. */
export const SIM_PROVIDER_KEY = "sim";

/** A sim model string, `<behaviour>[?<query>]`, taken apart. */
export interface SimModel {
  /** The whole model string, for messages and the result. */
  model: string;
  behaviour: string;
  params: URLSearchParams;
}

export function parseSimModel(model: string): SimModel {
  const at = model.indexOf("?");
  if (at < 0) return { model, behaviour: model, params: new URLSearchParams() };
  return { model, behaviour: model.slice(0, at), params: new URLSearchParams(model.slice(at + 1)) };
}

/** A sim model string the simulator cannot run: the step's definition is wrong, so never retryable. */
export function simBadRequest(model: string, problem: string): ProviderError {
  return new ProviderError(`sim model "${model}": ${problem}`, {
    code: "bad_request",
    provider: SIM_PROVIDER_KEY,
    status: 400,
  });
}

export interface NumberParamOptions {
  /** Default 0. */
  min?: number;
  integer?: boolean;
}

/** A numeric query parameter, or undefined when absent; a malformed one is a bad_request. */
export function readNumberParam(sim: SimModel, name: string, options: NumberParamOptions = {}): number | undefined {
  const raw = sim.params.get(name);
  if (raw === null) return undefined;
  const min = options.min ?? 0;
  const value = raw.trim() === "" ? Number.NaN : Number(raw);
  if (!Number.isFinite(value) || value < min || (options.integer === true && !Number.isInteger(value))) {
    throw simBadRequest(
      sim.model,
      `${name} must be ${options.integer ? "an integer" : "a number"} >= ${min}, got "${raw}"`,
    );
  }
  return value;
}

/** A required string query parameter (already URL-decoded). */
export function requireStringParam(sim: SimModel, name: string, allowEmpty = false): string {
  const value = sim.params.get(name);
  if (value === null || (!allowEmpty && value === "")) throw simBadRequest(sim.model, `needs ?${name}=…`);
  return value;
}
