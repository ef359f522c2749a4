import type { z } from "zod";

export type HttpMethod = "get" | "post" | "put" | "delete";

/** One answer of a route: what it means and, for a JSON body, its schema. */
export interface ContractResponse {
  description: string;
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
}

/**
 * One route of the HTTP contract: what the API serves and the SDK calls. The API binds a
 * handler, permissions and documentation to it (apps/api/src/routes/api-route.ts); the SDK
 * builds its requests from `method` and `path` and takes its types from the schemas.
 */
export interface ContractRoute<
  P extends string = string,
  Q extends z.ZodType | undefined = z.ZodType | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  R extends Record<number, ContractResponse> = Record<number, ContractResponse>,
> {
  method: HttpMethod;
  /** OpenAPI form: `{name}` for a parameter. */
  path: P;
  operationId: string;
  query?: Q;
  body?: B;
  responses: R;
}

/** Keeps the literal path and the schemas' types of a route (`satisfies` with inference). */
export function contractRoute<
  const P extends string,
  const R extends Record<number, ContractResponse>,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(route: ContractRoute<P, Q, B, R>): ContractRoute<P, Q, B, R> {
  return route;
}

/** `{flowId}` placeholders of a path, as the names of its parameters. */
export type PathParamNames<P extends string> = P extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PathParamNames<Rest>
  : never;
export type PathParams<P extends string> = { [K in PathParamNames<P>]: string | number };

/** `/v1/flows/{flowId}` with `{ flowId: "a b" }` → `/v1/flows/a%20b`. */
export function fillPath<P extends string>(path: P, params: PathParams<P>): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) =>
    encodeURIComponent(String((params as Record<string, string | number>)[name])),
  );
}

type SuccessStatus = 200 | 201 | 202 | 204;
type BodyOf<A> = A extends { schema: infer S extends z.ZodType } ? z.output<S> : undefined;

/** What a successful call answers: one `{ status, body }` per 2xx response of the route. */
export type ContractResult<R extends ContractRoute> = {
  [S in keyof R["responses"] & SuccessStatus]: { status: S; body: BodyOf<R["responses"][S]> };
}[keyof R["responses"] & SuccessStatus];

/** The JSON body a route answers with when it succeeds with `S`. */
export type ResponseBody<R extends ContractRoute, S extends keyof R["responses"]> = BodyOf<R["responses"][S]>;

/** What a caller sends: the request schema's input (defaults optional, before coercion). */
export type RequestBody<R extends ContractRoute> = z.input<NonNullable<R["body"]>>;
/** A route's query, as its handler reads it (after defaults and coercion). */
export type RequestQuery<R extends ContractRoute> = z.output<NonNullable<R["query"]>>;
