/** When the scheduler submits the batched steps of one provider and model. */
export interface BatchTrigger {
  /** A batch is submitted as soon as this many steps wait (and holds at most this many). */
  maxSize: number;
  /** Or once the oldest waiting step has waited this long. */
  maxAgeMs: number;
}

/**
 * How many batches to submit now for `count` steps waiting (the oldest for `oldestAgeMs`):
 * every full batch; and the rest too once the oldest step is old enough.
 */
export function batchesToSubmit(waiting: { count: number; oldestAgeMs: number }, trigger: BatchTrigger): number {
  if (waiting.count <= 0) return 0;
  const full = Math.floor(waiting.count / trigger.maxSize);
  return waiting.oldestAgeMs >= trigger.maxAgeMs ? Math.ceil(waiting.count / trigger.maxSize) : full;
}
