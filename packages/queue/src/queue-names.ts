/**
 * The job catalog's queues. `steps` names the family of step queues: a step job goes to its
 * provider's queue (`stepQueueName`); the plain `steps` queue only receives a step job whose
 * payload names no provider (a release before worker pools queued those), and every worker
 * drains it, passing each job on to its provider's queue.
 */
export const QUEUE_NAMES = { flows: "flows", steps: "steps" } as const;

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/**
 * The BullMQ queue of one provider's steps, e.g. `steps-openai`: that provider's worker pool
 * consumes it, and an autoscaler scales the pool on its waiting jobs. Provider keys match
 * PROVIDER_KEY_PATTERN (lower-case letters, digits, `-`, `_`), so the name never holds a `:`.
 */
export function stepQueueName(provider: string): string {
  return `${QUEUE_NAMES.steps}-${provider}`;
}

/**
 * Default key prefix for BullMQ queues and the progress bus (env `QUEUE_PREFIX`).
 *
 * On Redis Cluster, set `QUEUE_PREFIX` to a hash tag such as `{ensemble}`: BullMQ's Lua
 * scripts touch many keys of one queue at once, and they must all hash to the same slot.
 * (The progress bus additionally tags each flow's keys with `{<flowId>}`, which only
 * takes effect when the prefix has no hash tag of its own.)
 */
export const DEFAULT_QUEUE_PREFIX = "ensemble";
