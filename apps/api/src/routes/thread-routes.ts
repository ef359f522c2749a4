import {
  findThread,
  findUser,
  insertMessage,
  insertThread,
  listMessages,
  listReadableThreads,
  listPolicies,
  upsertPolicy,
  upsertThreadMember,
} from "@ensemble/db";
import { PROVIDER_KEY_PATTERN } from "@ensemble/core";
import { Router } from "express";
import { ApiError } from "../http/api-error.js";
import {
  CreateMessageBody,
  CreateThreadBody,
  ListThreadsQuery,
  PutMemberBody,
  PutPolicyBody,
} from "../http/request-schemas.js";
import { serializeMessage, serializeThread } from "../http/serialize.js";
import { requireThreadPermission } from "../http/thread-access.js";
import { parseRequest } from "../http/validate.js";
import type { AppContext } from "../app-context.js";

export function threadRoutes(ctx: AppContext): Router {
  const router = Router();
  const db = ctx.deps.db;

  router.post("/v1/threads", async (req, res) => {
    const body = parseRequest(CreateThreadBody, req.body);
    res.status(201).json(serializeThread(await insertThread(db, { ownerId: req.userId as string, title: body.title })));
  });

  router.get("/v1/threads", async (req, res) => {
    const page = await listReadableThreads(db, req.userId as string, parseRequest(ListThreadsQuery, req.query));
    res.json({ items: page.items.map(serializeThread), total: page.total });
  });

  router.get("/v1/threads/:threadId", async (req, res) => {
    await requireThreadPermission(db, req.params.threadId, req.userId as string, "read");
    res.json(serializeThread((await findThread(db, req.params.threadId))!));
  });

  router.put("/v1/threads/:threadId/members/:userId", async (req, res) => {
    const threadId = req.params.threadId;
    await requireThreadPermission(db, threadId, req.userId as string, "read");
    const thread = await findThread(db, threadId);
    if (thread?.ownerId !== req.userId) throw new ApiError("forbidden", "only the thread's owner manages its members");
    const body = parseRequest(PutMemberBody, req.body);
    if (!(await findUser(db, req.params.userId))) throw new ApiError("not_found", "user not found");
    await upsertThreadMember(db, { threadId, userId: req.params.userId, permissions: body.permissions });
    res.json({ threadId, userId: req.params.userId, permissions: body.permissions });
  });

  router.post("/v1/threads/:threadId/messages", async (req, res) => {
    const threadId = req.params.threadId;
    await requireThreadPermission(db, threadId, req.userId as string, "write");
    const body = parseRequest(CreateMessageBody, req.body);
    const message = await insertMessage(db, { threadId, role: body.role, content: body.content });
    res.status(201).json(serializeMessage(message!));
  });

  router.get("/v1/threads/:threadId/messages", async (req, res) => {
    const threadId = req.params.threadId;
    await requireThreadPermission(db, threadId, req.userId as string, "read");
    res.json({ items: (await listMessages(db, threadId)).map(serializeMessage) });
  });

  router.put("/v1/policies/:providerKey", async (req, res) => {
    const providerKey = req.params.providerKey;
    if (!PROVIDER_KEY_PATTERN.test(providerKey))
      throw new ApiError("validation_error", "bad provider key", [
        { path: "providerKey", message: "must be a provider key such as openai" },
      ]);
    const body = parseRequest(PutPolicyBody, req.body);
    const row = await upsertPolicy(db, { userId: req.userId as string, providerKey, ...body });
    res.json({
      providerKey: row.providerKey,
      allowConversationHistory: row.allowConversationHistory,
      allowCrossProviderContext: row.allowCrossProviderContext,
      allowAttachments: row.allowAttachments,
    });
  });

  router.get("/v1/policies", async (req, res) => {
    const rows = await listPolicies(db, req.userId as string);
    res.json({
      items: rows.map((r) => ({
        providerKey: r.providerKey,
        allowConversationHistory: r.allowConversationHistory,
        allowCrossProviderContext: r.allowCrossProviderContext,
        allowAttachments: r.allowAttachments,
      })),
    });
  });
  return router;
}
