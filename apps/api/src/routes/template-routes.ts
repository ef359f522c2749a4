import { describeFlowTemplates, findFlowTemplate } from "@ensemble/core";
import { Router } from "express";
import { ApiError } from "../http/api-error.js";

export function templateRoutes(): Router {
  const router = Router();
  router.get("/v1/templates", (_req, res) => {
    res.json({ items: describeFlowTemplates() });
  });
  router.post("/v1/templates/:name", (req, res) => {
    const template = findFlowTemplate(req.params.name);
    if (!template) throw new ApiError("not_found", `no template "${req.params.name}"; GET /v1/templates lists them`);
    res.json(template.build(req.body ?? {}));
  });
  return router;
}
