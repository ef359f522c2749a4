import { EngineEnvSchema, parseEnv } from "@ensemble/engine";
import { PROVIDER_KEY_PATTERN } from "@ensemble/core";
import { z } from "zod";

const commaList = z
  .string()
  .transform((text) => text.split(",").map((item) => item.trim()))
  .pipe(z.array(z.string().min(1, "has an empty entry")).min(1));

const WorkerEnvSchema = EngineEnvSchema.extend({
  /** Steps in flight per provider queue; LLM calls wait on the network, so size it for latency × rate. */
  WORKER_CONCURRENCY: z.coerce.number().int().positive().default(50),
  /**
   * The providers whose steps this worker takes, e.g. `openai,anthropic` (its pool): it
   * consumes their queues `steps-<provider>` only. Unset: every provider it has configured.
   */
  WORKER_PROVIDERS: commaList
    .pipe(z.array(z.string().regex(PROVIDER_KEY_PATTERN, "must be provider keys such as openai,anthropic")))
    .optional(),
  /**
   * Model allowlist, `provider:model` entries, e.g. `openai:gpt-4o,openai:gpt-4o-mini`: for a
   * provider named here, flows may only use these models (registered in the provider catalog).
   */
  WORKER_MODELS: commaList
    .pipe(z.array(z.string().regex(/^[a-z][a-z0-9_-]{0,63}:.+$/, "must be provider:model entries")))
    .transform((entries) => {
      const byProvider: Record<string, string[]> = {};
      for (const entry of entries) {
        const at = entry.indexOf(":");
        (byProvider[entry.slice(0, at)] ??= []).push(entry.slice(at + 1));
      }
      return byProvider;
    })
    .optional(),
});

export type WorkerEnv = z.infer<typeof WorkerEnvSchema>;

export function parseWorkerEnv(source: NodeJS.ProcessEnv = process.env): WorkerEnv {
  return parseEnv(WorkerEnvSchema, source);
}
