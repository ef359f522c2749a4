import type { QueueDepth } from "@ensemble/queue";
import type { RunDeps } from "../engine-deps.js";

/**
 * Job counts of the cluster's queues, each known provider's step queue included: the
 * provider catalog keeps providers whose pool is scaled to zero, so their queues are counted
 * and an autoscaler can start the first worker.
 */
export async function clusterQueueDepths(
  deps: Pick<RunDeps, "producer" | "providerCatalog">,
): Promise<Record<string, QueueDepth>> {
  const providers = (await deps.providerCatalog.list()).map((provider) => provider.key);
  return deps.producer.queueDepths(providers);
}
