import { describeFlowTemplates, FlowDefinitionSchema, findFlowTemplate } from "@ensemble/core";
import { z } from "zod";
import { ApiError } from "../http/api-error.js";
import * as responses from "../openapi/response-schemas.js";
import { defineRoute } from "./api-route.js";

/**
 * A template's parameters. Each template checks its own (template.build), so this only
 * describes the body; the route hands it over as sent.
 */
export const TemplateParameters = z
  .record(z.string(), z.unknown())
  .describe("the template's parameters (GET /v1/templates lists them)");

/** The flow templates and building a definition from one. */
export const templateRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/templates",
    operationId: "listTemplates",
    tag: "templates",
    summary: "The seven flow templates and their parameters",
    auth: "apiKey",
    responses: { 200: { description: "the templates", schema: responses.TemplateListResponse } },
    handler: ({ res }) => {
      res.json({ items: describeFlowTemplates() });
    },
  }),
  defineRoute({
    method: "post",
    path: "/v1/templates/{name}",
    operationId: "buildTemplate",
    tag: "templates",
    summary: "Build a FlowDefinition from a template",
    auth: "apiKey",
    pathParams: { name: "a template's name or alias" },
    body: TemplateParameters,
    responses: {
      200: { description: "the definition, ready for POST /v1/flows", schema: FlowDefinitionSchema },
    },
    errors: [400, 404],
    handler: ({ req, res, params }) => {
      const template = findFlowTemplate(params.name);
      if (!template) throw new ApiError("not_found", `no template "${params.name}"; GET /v1/templates lists them`);
      res.json(template.build(req.body ?? {}));
    },
  }),
];
