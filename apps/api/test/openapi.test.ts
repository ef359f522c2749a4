import { execFile } from "node:child_process";
import { join } from "node:path";
import { buildOpenApiDocument } from "../src/openapi/openapi-document.js";

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, Record<string, unknown>>;
};
type Operation = {
  security: Record<string, string[]>[];
  parameters?: { name: string; in: string; required: boolean }[];
  requestBody?: { required: boolean };
  responses: Record<string, unknown>;
};

const doc = buildOpenApiDocument() as unknown as Doc;

function validateWithSeriousme(document: unknown): Promise<{ valid: boolean; version: string; errors: unknown[] }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [join(__dirname, "support", "validate-openapi.mjs")],
      (err, stdout, stderr) => {
        if (err) reject(new Error(`validator failed: ${stderr || err.message}`));
        else resolve(JSON.parse(stdout) as { valid: boolean; version: string; errors: unknown[] });
      },
    );
    child.stdin?.end(JSON.stringify(document));
  });
}

function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, found));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") found.push(v);
      else refsIn(v, found);
    }
  }
  return found;
}

describe("GET /openapi.json document", () => {
  it("is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)", async () => {
    const result = await validateWithSeriousme(doc);
    expect(result.errors).toEqual([]);
    expect(result).toMatchObject({ valid: true, version: "3.1" });
  });

  // Which routes it has: test/route-agreement.int.test.ts (the registry, Express and docs/api.md).
  it("makes every {placeholder} of a path a required path parameter", () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const operation of Object.values(methods)) {
        for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
          expect(operation.parameters).toContainEqual(expect.objectContaining({ name, in: "path", required: true }));
        }
      }
    }
  });

  it("says how each route authenticates", () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const operation of Object.values(methods)) {
        const schemes = operation.security.flatMap((s) => Object.keys(s));
        if (path.startsWith("/v1/admin/")) expect(schemes).toEqual(["adminToken"]);
        else if (path.startsWith("/v1/")) expect(schemes).toEqual(["apiKey"]);
        else if (path === "/admin/queues") expect(schemes).toEqual(["adminToken", "adminCookie"]);
        else expect(schemes).toEqual([]);
      }
    }
    expect(Object.keys(doc.components.securitySchemes ?? {}).sort()).toEqual(["adminCookie", "adminToken", "apiKey"]);
  });

  it("gives every /v1 route the error shape for 401, 429, 500 and 503", () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      if (!path.startsWith("/v1/") || path.startsWith("/v1/admin/")) continue;
      for (const operation of Object.values(methods)) {
        for (const status of ["401", "429", "500", "503"]) expect(operation.responses[status]).toHaveProperty("$ref");
      }
    }
    const error = doc.components.schemas?.Error as {
      properties: { error: { required: string[]; properties: { code: { enum: string[] } } } };
    };
    expect(error.properties.error.required).toEqual(["code", "message", "details"]);
    expect(error.properties.error.properties.code.enum).toEqual(
      expect.arrayContaining(["validation_error", "unauthorized", "not_found", "rate_limited", "internal"]),
    );
  });

  it("takes request bodies from the validating zod schemas, limits and patterns included", () => {
    const schemas = doc.components.schemas as Record<
      string,
      { properties: Record<string, Record<string, unknown>>; required?: string[]; additionalProperties?: unknown }
    >;
    expect(schemas.CreateThreadBody).toMatchObject({
      properties: { title: { type: "string", minLength: 1, maxLength: 500 } },
      required: ["title"],
      additionalProperties: false,
    });
    expect(schemas.CreateFlowBody?.properties.definition).toEqual({ $ref: "#/components/schemas/FlowDefinition" });
    expect(schemas.LlmStep?.properties.id).toMatchObject({ type: "string", pattern: "^[A-Za-z][A-Za-z0-9_]{0,63}$" });
    expect(schemas.FlowDefinition?.properties.steps).toMatchObject({
      type: "array",
      items: { $ref: "#/components/schemas/FlowStep" },
      minItems: 1,
    });
    // An empty body is fine for execute (every field optional), not for creating a flow.
    expect(doc.paths["/v1/flows/{flowId}/execute"]?.post?.requestBody?.required).toBe(false);
    expect(doc.paths["/v1/flows"]?.post?.requestBody?.required).toBe(true);
    expect(doc.paths["/v1/flows/{flowId}/execute"]?.post?.parameters).toContainEqual(
      expect.objectContaining({ name: "Idempotency-Key", in: "header" }),
    );
  });

  it("resolves every $ref", () => {
    for (const ref of refsIn(doc)) {
      const [, section, name] = /^#\/components\/(\w+)\/(\w+)$/.exec(ref) ?? [];
      expect(section && name && doc.components[section]?.[name]).toBeTruthy();
    }
  });
});
