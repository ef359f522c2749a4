import { ProviderListResponse } from "@ensemble/core";
import { stepQueueName } from "@ensemble/queue";
import { defineRoute } from "./api-route.js";

/**
 * `GET /v1/providers`: the provider catalog — every provider a worker pool has served, its
 * queue, model allowlist, rate limits and live workers. No keys or base URLs: workers never
 * register them.
 */
export const providerRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/providers",
    operationId: "listProviders",
    tag: "providers",
    summary: "The providers this cluster serves, their live workers and limits",
    description:
      "The provider catalog: every provider a worker pool has registered, kept when the pool scales to zero. A flow naming another provider is refused (400 naming `definition.steps[i].provider`). No keys or base URLs.",
    auth: "apiKey",
    responses: { 200: { description: "the providers", schema: ProviderListResponse } },
    handler: async ({ ctx, res }) => {
      const providers = await ctx.app.deps.providerCatalog.list();
      res.json({
        items: providers.map((p) => ({
          key: p.key,
          queue: stepQueueName(p.key),
          models: p.models,
          limits: p.limits,
          liveWorkers: p.liveWorkers.length,
          workers: p.liveWorkers.map((w) => ({
            id: w.workerId,
            startedAt: w.startedAt.toISOString(),
            heartbeatAt: w.heartbeatAt.toISOString(),
          })),
          lastSeenAt: p.lastSeenAt.toISOString(),
        })),
      });
    },
  }),
];
