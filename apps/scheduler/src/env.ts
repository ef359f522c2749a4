import { EngineEnvSchema, parseEnv } from "@ensemble/engine";
import { z } from "zod";

const SchedulerEnvSchema = EngineEnvSchema.extend({
  /** Flow jobs (short transactions) in flight at once. */
  SCHEDULER_CONCURRENCY: z.coerce.number().int().positive().default(16),
  /** How often (ms) the repair sweep looks for runs that stopped moving. */
  SWEEP_EVERY_MS: z.coerce.number().int().min(500).default(5_000),
});

export type SchedulerEnv = z.infer<typeof SchedulerEnvSchema>;

export function parseSchedulerEnv(source: NodeJS.ProcessEnv = process.env): SchedulerEnv {
  return parseEnv(SchedulerEnvSchema, source);
}
