import { formatIssuePath, PROVIDER_KEY_PATTERN } from "@ensemble/core";
import { z } from "zod";
import { SIM_PROVIDER_KEY } from "../sim/sim-model.js";
import { BUILT_IN_VENDORS, type BuiltInVendorEntry } from "./built-in-vendors.js";

/** Keys an OpenAI-compatible endpoint may not take: the built-in providers'. */
export const RESERVED_PROVIDER_KEYS: readonly string[] = [
  ...BUILT_IN_VENDORS.map((vendor) => vendor.key),
  SIM_PROVIDER_KEY,
];

const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
const secret = z.string().min(1);

export const OpenAICompatibleEndpointSchema = z.strictObject({
  /** The provider key flow steps name. */
  name: z
    .string()
    .regex(PROVIDER_KEY_PATTERN, "must be a provider key: lower-case letters, digits, - and _")
    .refine((name) => !RESERVED_PROVIDER_KEYS.includes(name), "is a built-in provider's key"),
  /** The server's OpenAI API root, usually ending in /v1. */
  baseUrl: httpUrl,
  /** The environment variable holding the key; omit for a keyless server. */
  apiKeyEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name")
    .optional(),
  /** Default max_tokens; Azure's v1 API also takes max_completion_tokens. */
  maxTokensField: z.enum(["max_tokens", "max_completion_tokens"]).optional(),
});
export type OpenAICompatibleEndpoint = z.infer<typeof OpenAICompatibleEndpointSchema>;

const EndpointListSchema = z.array(OpenAICompatibleEndpointSchema).superRefine((endpoints, ctx) => {
  const seen = new Set<string>();
  endpoints.forEach((endpoint, index) => {
    if (seen.has(endpoint.name))
      ctx.addIssue({ code: "custom", path: [index, "name"], message: `"${endpoint.name}" is listed twice` });
    seen.add(endpoint.name);
  });
});

/** OPENAI_COMPATIBLE_ENDPOINTS: a JSON list of endpoints. */
export const OpenAICompatibleEndpointsSchema = z
  .string()
  .transform((text, ctx): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      // Not JSON.parse's message: it quotes the input, which may hold something secret.
      ctx.addIssue({
        code: "custom",
        message: 'must be a JSON list such as [{"name":"ollama","baseUrl":"http://127.0.0.1:11434/v1"}]',
      });
      return z.NEVER;
    }
  })
  .pipe(EndpointListSchema);

type VendorVariables = {
  [V in BuiltInVendorEntry as V["apiKeyVariable"]]: z.ZodOptional<typeof secret>;
} & {
  [V in BuiltInVendorEntry as V["baseUrlVariable"]]: z.ZodOptional<typeof httpUrl>;
};

const vendorVariables = Object.fromEntries(
  BUILT_IN_VENDORS.flatMap((vendor) => [
    [vendor.apiKeyVariable, secret.optional()],
    [vendor.baseUrlVariable, httpUrl.optional()],
  ]),
) as VendorVariables;

/**
 * The variables that configure the vendor adapters: each built-in vendor's key and optional
 * base URL (BUILT_IN_VENDORS), and OPENAI_COMPATIBLE_ENDPOINTS. A provider is configured when
 * its key is set. Spread `.shape` into an app's env schema so a bad value stops the process
 * naming the variable.
 */
export const ProviderEnvSchema = z.object({
  ...vendorVariables,
  OPENAI_COMPATIBLE_ENDPOINTS: OpenAICompatibleEndpointsSchema.optional(),
});
export type ProviderEnv = z.infer<typeof ProviderEnvSchema>;

/** A configuration problem, naming the variable (never its value). */
export class ProviderConfigError extends Error {
  override readonly name = "ProviderConfigError";
}

/** Parses the provider variables of an environment; empty variables count as unset. */
export function parseProviderEnv(source: Readonly<Record<string, string | undefined>>): ProviderEnv {
  const present = Object.fromEntries(
    Object.entries(source).filter(
      ([name, value]) => name in ProviderEnvSchema.shape && value !== undefined && value !== "",
    ),
  );
  const parsed = ProviderEnvSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`).join("; ");
    throw new ProviderConfigError(`invalid provider configuration: ${problems}`);
  }
  const env = parsed.data;
  for (const { apiKeyVariable, baseUrlVariable } of BUILT_IN_VENDORS) {
    // A base URL alone would silently configure nothing: say so.
    if (env[baseUrlVariable] && !env[apiKeyVariable])
      throw new ProviderConfigError(
        `invalid provider configuration: ${baseUrlVariable} is set but ${apiKeyVariable} is not`,
      );
  }
  return env;
}

/**
 * Just the variables providersFromEnv reads from `source`: the provider variables and the ones
 * OPENAI_COMPATIBLE_ENDPOINTS names as key variables (an unparseable list names none; parsing
 * it later reports the problem). Lets a process hand its provider configuration on without the
 * rest of its environment.
 */
export function pickProviderVariables(source: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const picked: Record<string, string> = {};
  const keep = (name: string): void => {
    const value = source[name];
    if (value !== undefined && value !== "") picked[name] = value;
  };
  for (const name of Object.keys(ProviderEnvSchema.shape)) keep(name);
  const endpoints = OpenAICompatibleEndpointsSchema.safeParse(source.OPENAI_COMPATIBLE_ENDPOINTS ?? "[]");
  if (endpoints.success) for (const endpoint of endpoints.data) if (endpoint.apiKeyEnv) keep(endpoint.apiKeyEnv);
  return picked;
}
