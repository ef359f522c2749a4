import type { OrchestrationFlowStatus } from "@ensemble/core";
import { count, inArray } from "drizzle-orm";
import type { Executor } from "../client.js";
import { flows } from "../schema/tables.js";

/**
 * How many flows are in each of `statuses` right now (metrics: queued and running flows).
 * One grouped count on `flows_status_idx`; statuses with no flow are reported as 0.
 */
export async function countFlowsByStatus<S extends OrchestrationFlowStatus>(
  db: Executor,
  statuses: readonly S[],
): Promise<Record<S, number>> {
  const counts = Object.fromEntries(statuses.map((s) => [s, 0])) as Record<S, number>;
  if (statuses.length === 0) return counts;
  const rows = await db
    .select({ status: flows.status, n: count() })
    .from(flows)
    .where(inArray(flows.status, [...statuses]))
    .groupBy(flows.status);
  for (const row of rows) counts[row.status as S] = Number(row.n); // the filter admits only S
  return counts;
}
