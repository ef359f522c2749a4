import { EngineEnvSchema, parseEnv } from "@ensemble/engine";
import { z } from "zod";

const WorkerEnvSchema = EngineEnvSchema.extend({
  /** Steps in flight in this process; LLM calls wait on the network, so size it for latency × rate. */
  WORKER_CONCURRENCY: z.coerce.number().int().positive().default(50),
});

export type WorkerEnv = z.infer<typeof WorkerEnvSchema>;

export function parseWorkerEnv(source: NodeJS.ProcessEnv = process.env): WorkerEnv {
  return parseEnv(WorkerEnvSchema, source);
}
