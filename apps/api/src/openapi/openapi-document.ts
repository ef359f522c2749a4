import {
  ApiKeyCreatedResponse,
  ApiKeyListResponse,
  ApiKeyResponse,
  ApprovalDecidedResponse,
  ApprovalListResponse,
  CancelAcceptedResponse,
  ExecuteAcceptedResponse,
  FlowGraphResponse,
  FlowListResponse,
  FlowResponse,
  FlowStatusResponse,
  HealthResponse,
  MessageListResponse,
  MessageResponse,
  PolicyListResponse,
  ProviderListResponse,
  ReadinessResponse,
  RerunAcceptedResponse,
  RunComparisonResponse,
  RunDetailResponse,
  RunListResponse,
  ScheduleListResponse,
  ScheduleResponse,
  StepPageResponse,
  TemplateListResponse,
  ThreadListResponse,
  ThreadMemberResponse,
  ThreadResponse,
  UsageResponse,
  UserLimitsResponse,
  UserResponse,
} from "@ensemble/core";
import { ErrorBody } from "../http/api-error.js";
import {
  ContextPolicySchema,
  DataSharingPolicySchema,
  FlowDefinitionSchema,
  FlowExecutionResultSchema,
  FlowStepResultSchema,
  FlowStepSchema,
  FlowStreamUpdateSchema,
  StepErrorSchema,
  TokenUsageSchema,
  LlmStepSchema,
  ApprovalStepSchema,
} from "@ensemble/core";
import { z } from "zod";
import { ADMIN_SESSION_COOKIE } from "../auth/queue-board-auth.js";
import {
  ApproveStepBody,
  CreateFlowBody,
  CreateMessageBody,
  CreateThreadBody,
  CreateUserBody,
  ExecuteFlowBody,
  PutMemberBody,
  PutPolicyBody,
  RerunBody,
  PutUserLimitsBody,
  CreateScheduleBody,
  TemplateParameters,
} from "@ensemble/core";
import type { ApiRoute, RouteAuth, RouteResponse } from "../routes/api-route.js";
import { ROUTES } from "../routes/route-registry.js";

/**
 * The OpenAPI 3.1 document of the HTTP API (`GET /openapi.json`): one operation per route
 * of the registry (routes/route-registry.ts), its schemas generated with `z.toJSONSchema` from the zod schemas that validate the requests (http/request-schemas.ts,
 * the flow definition schema of @ensemble/core) and describe the responses
 * (openapi/response-schemas.ts). OpenAPI 3.1 schemas are JSON Schema 2020-12, zod's target.
 */

/** Named schemas: components/schemas/<name>, referenced with $ref wherever they appear. */
const NAMED_SCHEMAS: Record<string, z.ZodType> = {
  // requests
  CreateUserBody,
  CreateThreadBody,
  PutMemberBody,
  CreateMessageBody,
  PutPolicyBody,
  // The route accepts any JSON here and hands it to the flow compiler, which validates it
  // with FlowDefinitionSchema (and the DAG, template and CEL checks JSON Schema cannot say).
  CreateFlowBody: CreateFlowBody.extend({ definition: FlowDefinitionSchema }),
  ExecuteFlowBody,
  RerunBody,
  PutUserLimitsBody,
  CreateScheduleBody,
  TemplateParameters,
  // the flow language and results (shared by requests and responses)
  FlowDefinition: FlowDefinitionSchema,
  FlowStep: FlowStepSchema,
  LlmStep: LlmStepSchema,
  ApprovalStep: ApprovalStepSchema,
  ContextPolicy: ContextPolicySchema,
  TokenUsage: TokenUsageSchema,
  StepError: StepErrorSchema,
  FlowStepResult: FlowStepResultSchema,
  FlowExecutionResult: FlowExecutionResultSchema,
  FlowEvent: FlowStreamUpdateSchema,
  DataSharingPolicy: DataSharingPolicySchema,
  // responses
  Error: ErrorBody,
  User: UserResponse,
  ApiKeyCreated: ApiKeyCreatedResponse,
  ApiKey: ApiKeyResponse,
  ApiKeyList: ApiKeyListResponse,
  ProviderList: ProviderListResponse,
  Thread: ThreadResponse,
  ThreadMember: ThreadMemberResponse,
  Message: MessageResponse,
  MessageList: MessageListResponse,
  PolicyList: PolicyListResponse,
  Flow: FlowResponse,
  FlowList: FlowListResponse,
  ThreadList: ThreadListResponse,
  FlowGraph: FlowGraphResponse,
  StepPage: StepPageResponse,
  ExecuteAccepted: ExecuteAcceptedResponse,
  CancelAccepted: CancelAcceptedResponse,
  ApproveStepBody,
  ApprovalDecided: ApprovalDecidedResponse,
  ApprovalList: ApprovalListResponse,
  FlowStatus: FlowStatusResponse,
  RunList: RunListResponse,
  RunDetail: RunDetailResponse,
  RerunAccepted: RerunAcceptedResponse,
  RunComparison: RunComparisonResponse,
  TemplateList: TemplateListResponse,
  UserLimits: UserLimitsResponse,
  Usage: UsageResponse,
  Schedule: ScheduleResponse,
  ScheduleList: ScheduleListResponse,
  Health: HealthResponse,
  Readiness: ReadinessResponse,
};

const ERROR_RESPONSES: Record<number, { name: string; description: string; retryAfter?: boolean }> = {
  400: { name: "ValidationError", description: "`validation_error`: `details` names each bad field by its path" },
  401: { name: "Unauthorized", description: "`unauthorized`: missing, unknown or revoked credentials" },
  402: {
    name: "BudgetExceeded",
    description:
      "`budget_exceeded`: the caller's spend reached a spend cap; the message names the cap and period, `details` give `period`, `capUsd`, `spentUsd` and `resetsAt`",
    retryAfter: true,
  },
  403: {
    name: "Forbidden",
    description:
      "`forbidden` (a member of the thread without the permission this needs; `details` name it) or `policy_violation`",
  },
  404: { name: "NotFound", description: "`not_found`, also for what belongs to someone else" },
  409: { name: "Conflict", description: "`conflict`: the resource's state forbids this (e.g. the flow is running)" },
  413: { name: "PayloadTooLarge", description: "`payload_too_large`: the body is over MAX_BODY_BYTES" },
  415: {
    name: "UnsupportedMediaType",
    description: "`unsupported_media_type`: send the body as JSON (Content-Type: application/json)",
  },
  429: {
    name: "RateLimited",
    description:
      "`rate_limited`: the key's request rate is spent, or (event streams) it has MAX_STREAMS_PER_KEY streams open",
    retryAfter: true,
  },
  500: { name: "Internal", description: "`internal`: no stack, no secret; the server logged it" },
  503: { name: "Unavailable", description: "`unavailable`: Redis is unreachable", retryAfter: true },
};

/** Errors every route of an auth kind can answer. */
const COMMON_ERRORS: Record<RouteAuth, number[]> = {
  apiKey: [401, 429, 500, 503],
  admin: [401, 404, 500],
  adminBoard: [401, 404],
  none: [],
};

const IDEMPOTENCY_HEADER: { name: string; description: string; required?: boolean } = {
  name: "Idempotency-Key",
  description:
    "a repeated request with the same key (same caller, same body) returns the first answer and starts nothing new",
};

const PATH_PARAM_DESCRIPTIONS: Record<string, string> = { threadId: "a thread id", flowId: "a flow id" };

const SECURITY: Record<RouteAuth, Record<string, string[]>[]> = {
  apiKey: [{ apiKey: [] }],
  admin: [{ adminToken: [] }],
  adminBoard: [{ adminToken: [] }, { adminCookie: [] }],
  none: [],
};

/** Strips what a standalone JSON Schema carries but an embedded one must not. */
function embedded(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

function componentSchemas(): Record<string, Record<string, unknown>> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(NAMED_SCHEMAS)) registry.add(schema, { id });
  // "input": what a client may send (defaults make fields optional); response schemas have no defaults.
  const { schemas } = z.toJSONSchema(registry, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => [id, embedded(schema as Record<string, unknown>)]),
  );
}

/** Named zod schemas by identity, so a route's schema becomes a `$ref` to its component. */
const COMPONENT_NAMES = new Map<z.ZodType, string>([
  ...Object.entries(NAMED_SCHEMAS).map(([name, schema]) => [schema, name] as const),
  // The route validates `definition` in the flow compiler; its component says it is a FlowDefinition.
  [CreateFlowBody, "CreateFlowBody"],
]);

function schemaOf(schema: RouteResponse["schema"]): Record<string, unknown> | undefined {
  if (schema === undefined) return undefined;
  if (!(schema instanceof z.ZodType)) return schema;
  const name = COMPONENT_NAMES.get(schema);
  if (name) return { $ref: `#/components/schemas/${name}` };
  // A scalar (the event stream's text) is written in place; a structure needs a component name.
  if (schema instanceof z.ZodString) return embedded(z.toJSONSchema(schema, { target: "draft-2020-12" }));
  throw new Error("a route's response or body schema must be one of NAMED_SCHEMAS");
}

function parameters(op: ApiRoute): Record<string, unknown>[] {
  const params: Record<string, unknown>[] = [];
  for (const [, name] of op.path.matchAll(/\{([^}]+)\}/g)) {
    params.push({
      name,
      in: "path",
      required: true,
      description:
        (op.pathParams as Record<string, string> | undefined)?.[name as string] ??
        PATH_PARAM_DESCRIPTIONS[name as string] ??
        name,
      schema: { type: "string" },
    });
  }
  const query = op.query instanceof z.ZodObject ? op.query : undefined;
  for (const [name, field] of Object.entries(query?.shape ?? {})) {
    const schema = embedded(
      z.toJSONSchema(field as z.ZodType, { target: "draft-2020-12", io: "input", unrepresentable: "any" }),
    );
    const { description, ...rest } = schema;
    params.push({
      name,
      in: "query",
      required: !(field as z.ZodType).safeParse(undefined).success,
      ...(description ? { description } : {}),
      schema: rest,
    });
  }
  const headers = [...(op.idempotency ? [IDEMPOTENCY_HEADER] : []), ...(op.headers ?? [])];
  for (const header of headers) {
    params.push({
      name: header.name,
      in: "header",
      required: header.required ?? false,
      description: header.description,
      schema: { type: "string" },
    });
  }
  return params;
}

function operation(op: ApiRoute): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(op.responses)) {
    const schema = schemaOf(spec.schema);
    result[status] = {
      description: spec.description,
      ...(spec.headers ? { headers: spec.headers } : {}),
      ...(schema ? { content: { [spec.contentType ?? "application/json"]: { schema } } } : {}),
    };
  }
  // A route with a body can also answer 413 and 415 (the JSON body parser runs before it).
  const bodyErrors = op.body ? [413, 415] : [];
  const errors = [...new Set([...COMMON_ERRORS[op.auth], ...(op.errors ?? []), ...bodyErrors])].sort();
  for (const status of errors) {
    const known = ERROR_RESPONSES[status];
    if (known && !(String(status) in result)) result[status] = { $ref: `#/components/responses/${known.name}` };
  }
  const params = parameters(op);
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    security: SECURITY[op.auth],
    ...(params.length ? { parameters: params } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: !op.body.safeParse({}).success,
            content: { "application/json": { schema: schemaOf(op.body) } },
          },
        }
      : {}),
    responses: result,
  };
}

/** Builds the document (a plain object; serve it as JSON). */
export function buildOpenApiDocument(options: { version?: string } = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of ROUTES) {
    paths[op.path] ??= {};
    paths[op.path]![op.method] = operation(op);
  }
  const errorResponses = Object.fromEntries(
    Object.values(ERROR_RESPONSES).map((e) => [
      e.name,
      {
        description: e.description,
        ...(e.retryAfter
          ? {
              headers: {
                "Retry-After": { description: "seconds to wait before retrying", schema: { type: "integer" } },
              },
            }
          : {}),
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      },
    ]),
  );
  return {
    openapi: "3.1.0",
    info: {
      title: "Ensemble API",
      version: options.version ?? "0.1.0",
      description:
        "Runs multi-model LLM flows on a queue-based worker cluster. Every /v1 route needs `Authorization: Bearer <api key>`; errors are `{ error: { code, message, details } }`.",
    },
    tags: [
      "admin",
      "threads",
      "policies",
      "flows",
      "runs",
      "schedules",
      "usage",
      "events",
      "providers",
      "templates",
      "operations",
    ].map((name) => ({ name })),
    paths,
    components: {
      schemas: componentSchemas(),
      responses: errorResponses,
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "an API key (`ens_…`) from POST /v1/admin/users/{userId}/api-keys; it names the calling user",
        },
        adminToken: {
          type: "http",
          scheme: "bearer",
          description: "ADMIN_TOKEN (admin routes are off while it is unset)",
        },
        adminCookie: {
          type: "apiKey",
          in: "cookie",
          name: ADMIN_SESSION_COOKIE,
          description:
            "a session id set by GET /admin/login?token=<ADMIN_TOKEN>, for Bull Board in a browser; writes with it must be same-origin",
        },
      },
    },
  };
}
