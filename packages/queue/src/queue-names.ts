/** The BullMQ queues Ensemble uses; a job's queue comes from the job catalog. */
export const QUEUE_NAMES = { flows: "flows", steps: "steps" } as const;

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/**
 * Default key prefix for BullMQ queues and the progress bus (env `QUEUE_PREFIX`).
 *
 * On Redis Cluster, set `QUEUE_PREFIX` to a hash tag such as `{ensemble}`: BullMQ's Lua
 * scripts touch many keys of one queue at once, and they must all hash to the same slot.
 * (The progress bus additionally tags each flow's keys with `{<flowId>}`, which only
 * takes effect when the prefix has no hash tag of its own.)
 */
export const DEFAULT_QUEUE_PREFIX = "ensemble";
