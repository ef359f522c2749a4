import { apiContract } from "@ensemble/core";
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
import { ApiError } from "../http/api-error.js";
import { serializeMessage, serializeThread } from "../http/serialize.js";
import { requireThreadPermission } from "../http/thread-access.js";
import { defineRoute } from "./api-route.js";

/** A data-sharing policy as the API answers it. */
const serializePolicy = (r: {
  providerKey: string;
  allowConversationHistory: boolean;
  allowCrossProviderContext: boolean;
  allowAttachments: boolean;
}) => ({
  providerKey: r.providerKey,
  allowConversationHistory: r.allowConversationHistory,
  allowCrossProviderContext: r.allowCrossProviderContext,
  allowAttachments: r.allowAttachments,
});

/** Threads, their members and messages, and the caller's data-sharing policies. */
export const threadRoutes = [
  defineRoute({
    ...apiContract.createThread,
    tag: "threads",
    summary: "Create a thread (the caller owns it)",
    auth: "apiKey",
    errors: [400],
    handler: async ({ ctx, res, userId, body }) => {
      res
        .status(201)
        .json(serializeThread(await insertThread(ctx.app.deps.db, { ownerId: userId, title: body().title })));
    },
  }),
  defineRoute({
    ...apiContract.listThreads,
    tag: "threads",
    summary: "The threads the caller may read (owns, or is a member with read), newest first",
    auth: "apiKey",
    errors: [400],
    handler: async ({ ctx, res, userId, query }) => {
      const page = await listReadableThreads(ctx.app.deps.db, userId, query());
      res.json({ items: page.items.map(serializeThread), total: page.total });
    },
  }),
  defineRoute({
    ...apiContract.getThread,
    tag: "threads",
    summary: "Get a thread",
    auth: "apiKey",
    errors: [403, 404],
    handler: async ({ ctx, res, userId, params }) => {
      const db = ctx.app.deps.db;
      await requireThreadPermission(db, params.threadId, userId, "read");
      res.json(serializeThread((await findThread(db, params.threadId))!));
    },
  }),
  defineRoute({
    ...apiContract.putThreadMember,
    tag: "threads",
    summary: "Set a member's permissions (owner only)",
    auth: "apiKey",
    pathParams: { userId: "the member" },
    errors: [400, 403, 404],
    handler: async ({ ctx, res, userId, params, body }) => {
      const db = ctx.app.deps.db;
      const { threadId } = params;
      await requireThreadPermission(db, threadId, userId, "read");
      const thread = await findThread(db, threadId);
      if (thread?.ownerId !== userId) throw new ApiError("forbidden", "only the thread's owner manages its members");
      const { permissions } = body();
      if (!(await findUser(db, params.userId))) throw new ApiError("not_found", "user not found");
      await upsertThreadMember(db, { threadId, userId: params.userId, permissions });
      res.json({ threadId, userId: params.userId, permissions });
    },
  }),
  defineRoute({
    ...apiContract.createMessage,
    tag: "threads",
    summary: "Add a message to a thread",
    auth: "apiKey",
    errors: [400, 403, 404],
    handler: async ({ ctx, res, userId, params, body }) => {
      const db = ctx.app.deps.db;
      await requireThreadPermission(db, params.threadId, userId, "write");
      const { role, content } = body();
      const message = await insertMessage(db, { threadId: params.threadId, role, content });
      res.status(201).json(serializeMessage(message!));
    },
  }),
  defineRoute({
    ...apiContract.listMessages,
    tag: "threads",
    summary: "The thread's history",
    auth: "apiKey",
    errors: [403, 404],
    handler: async ({ ctx, res, userId, params }) => {
      const db = ctx.app.deps.db;
      await requireThreadPermission(db, params.threadId, userId, "read");
      res.json({ items: (await listMessages(db, params.threadId)).map(serializeMessage) });
    },
  }),
  defineRoute({
    ...apiContract.putPolicy,
    tag: "policies",
    summary: "Set the caller's data-sharing policy for a provider",
    auth: "apiKey",
    pathParams: { providerKey: "openai, anthropic, google, sim or a configured endpoint's name" },
    errors: [400],
    handler: async ({ ctx, res, userId, params, body }) => {
      const { providerKey } = params;
      if (!PROVIDER_KEY_PATTERN.test(providerKey))
        throw new ApiError("validation_error", "bad provider key", [
          { path: "providerKey", message: "must be a provider key such as openai" },
        ]);
      const parsed = body();
      res.json(serializePolicy(await upsertPolicy(ctx.app.deps.db, { userId, providerKey, ...parsed })));
    },
  }),
  defineRoute({
    ...apiContract.listPolicies,
    tag: "policies",
    summary: "The caller's data-sharing policies",
    auth: "apiKey",
    handler: async ({ ctx, res, userId }) => {
      res.json({ items: (await listPolicies(ctx.app.deps.db, userId)).map(serializePolicy) });
    },
  }),
];
