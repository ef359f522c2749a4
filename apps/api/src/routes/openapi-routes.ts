import { Router } from "express";
import { buildOpenApiDocument } from "../openapi/openapi-document.js";

/** `GET /openapi.json`: built once, on the first request (the schemas do not change while the process runs). */
export function openApiRoutes(): Router {
  const router = Router();
  let document: string | undefined;
  router.get("/openapi.json", (_req, res) => {
    document ??= JSON.stringify(buildOpenApiDocument());
    res.type("application/json").send(document);
  });
  return router;
}
