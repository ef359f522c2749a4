import { apiContract } from "@ensemble/core";
import { describeFlowTemplates, findFlowTemplate } from "@ensemble/core";
import { ApiError } from "../http/api-error.js";
import { defineRoute } from "./api-route.js";

/** The flow templates and building a definition from one. */
export const templateRoutes = [
  defineRoute({
    ...apiContract.listTemplates,
    tag: "templates",
    summary: "The seven flow templates and their parameters",
    auth: "apiKey",
    handler: ({ res }) => {
      res.json({ items: describeFlowTemplates() });
    },
  }),
  defineRoute({
    ...apiContract.buildTemplate,
    tag: "templates",
    summary: "Build a FlowDefinition from a template",
    auth: "apiKey",
    pathParams: { name: "a template's name or alias" },
    errors: [400, 404],
    handler: ({ req, res, params }) => {
      const template = findFlowTemplate(params.name);
      if (!template) throw new ApiError("not_found", `no template "${params.name}"; GET /v1/templates lists them`);
      res.json(template.build(req.body ?? {}));
    },
  }),
];
