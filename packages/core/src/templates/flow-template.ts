import { z } from "zod";
import { ValidationError, type ValidationIssue } from "../errors/validation-error.js";
import { issuesFromZod } from "../errors/zod-issues.js";
import type { OrchestrationFlowType } from "../schema/enums.js";
import type { FlowDefinitionInput } from "../schema/flow-definition.js";

/** One template parameter as `GET /v1/templates` shows it (plain JSON). */
export interface TemplateParameter {
  name: string;
  /** A short type for people: "string", "integer", "number", "{ provider, model }", "{ provider, model }[]". */
  type: string;
  /** The value used when the parameter is left out; absent when it follows from other parameters (the description says how). */
  default?: unknown;
  description: string;
}

/** A pre-built flow that can be built from JSON parameters (the route `POST /v1/templates/:name`). */
export interface FlowTemplate {
  /** The builder function's name in the SDK, e.g. `createCritiqueFlow`. */
  name: string;
  /** The kebab-case alias, e.g. `critique`. */
  alias: string;
  description: string;
  flowType: OrchestrationFlowType;
  parameters: readonly TemplateParameter[];
  /** Validates `params` (every one optional) and builds the definition; throws ValidationError naming each bad parameter by its path. */
  build(params?: unknown): FlowDefinitionInput;
}

/** How one parameter is validated and described. */
export interface ParameterSpec<T> {
  schema: z.ZodType<T>;
  type: string;
  description: string;
  /** Left out: the parameter is optional and the builder decides (e.g. "the generating model"). */
  default?: T;
}

/** One spec per builder parameter; optional parameters are specs without a default. */
export type ParameterSpecs<P> = { [K in keyof P]-?: ParameterSpec<Exclude<P[K], undefined>> };

export interface FlowTemplateSpec<P> {
  name: string;
  alias: string;
  description: string;
  flowType: OrchestrationFlowType;
  parameters: ParameterSpecs<P>;
  /** Receives validated parameters with their defaults filled in. */
  build(params: P): FlowDefinitionInput;
}

/** A zod `unrecognized_keys` issue names the keys in its message, not its path; give each unknown key its own path. */
function parameterIssues(error: z.ZodError, template: string, known: readonly string[]): ValidationIssue[] {
  return error.issues.flatMap((issue): ValidationIssue[] => {
    if (issue.code !== "unrecognized_keys" || issue.path.length > 0) return issuesFromZod(new z.ZodError([issue]));
    return issue.keys.map((key) => ({
      path: key,
      message: `is not a parameter of ${template} (its parameters: ${known.join(", ")})`,
    }));
  });
}

export function defineFlowTemplate<P extends object>(spec: FlowTemplateSpec<P>): FlowTemplate {
  const entries = Object.entries<ParameterSpec<unknown>>(spec.parameters);
  const shape: Record<string, z.ZodType> = {};
  for (const [name, param] of entries) {
    const fallback = param.default;
    // A fresh copy per build, so a caller mutating one definition cannot change the next.
    shape[name] =
      fallback === undefined ? param.schema.optional() : param.schema.default(() => structuredClone(fallback));
  }
  const schema = z.strictObject(shape);
  const known = entries.map(([name]) => name);
  return {
    name: spec.name,
    alias: spec.alias,
    description: spec.description,
    flowType: spec.flowType,
    parameters: entries.map(([name, param]) => ({
      name,
      type: param.type,
      ...(param.default === undefined ? {} : { default: structuredClone(param.default) }),
      description: param.description,
    })),
    build(params: unknown = {}): FlowDefinitionInput {
      const parsed = schema.safeParse(params);
      if (!parsed.success) throw new ValidationError(parameterIssues(parsed.error, spec.name, known));
      // The schema is built from `spec.parameters`, one entry per key of P, so its output is a P.
      return spec.build(parsed.data as P);
    },
  };
}
