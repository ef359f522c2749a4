import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { trace, type Tracer } from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace";

export interface Tracing {
  /** False when no exporter is configured: every span helper then runs its function and nothing else. */
  readonly enabled: boolean;
  /** Exports what is buffered and stops (call on shutdown). */
  shutdown(): Promise<void>;
}

const DISABLED: Tracing = { enabled: false, shutdown: async () => undefined };
let current: Tracing = DISABLED;
let starting: Promise<Tracing> | undefined;

/**
 * Whether the standard `OTEL_*` variables ask for traces: an OTLP endpoint is set (or
 * `OTEL_TRACES_EXPORTER=otlp`), and neither `OTEL_SDK_DISABLED=true` nor
 * `OTEL_TRACES_EXPORTER=none` turns them off.
 */
export function tracesRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === "none") return false;
  if (exporter === "otlp") return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts exporting traces over OTLP/HTTP when the environment asks for it (see
 * `tracesRequested`); the exporter reads its endpoint, headers and timeout from `OTEL_*`.
 * Otherwise nothing is registered or loaded, and the span helpers cost one boolean check.
 */
export async function startTracing(options: {
  serviceName: string;
  env?: NodeJS.ProcessEnv;
  /** Where spans go instead of OTLP (tests); tracing is then on whatever the environment says. */
  exporter?: SpanExporter;
}): Promise<Tracing> {
  const env = options.env ?? process.env;
  if (current.enabled || (!options.exporter && !tracesRequested(env))) return current;
  // Two engines of one process (ROLES=all) starting at once register one provider.
  starting ??= import("./tracing-sdk.js")
    .then(({ registerTracerProvider }) => {
      const provider = registerTracerProvider({
        serviceName: env.OTEL_SERVICE_NAME || options.serviceName,
        ...(options.exporter ? { exporter: options.exporter } : {}),
        presetIds: () => presetIds.getStore(),
      });
      current = {
        enabled: true,
        async shutdown() {
          await provider.shutdown();
          current = DISABLED;
        },
      };
      return current;
    })
    .finally(() => {
      starting = undefined;
    });
  return starting;
}

export function tracingEnabled(): boolean {
  return current.enabled;
}

export function tracer(): Tracer {
  return trace.getTracer("ensemble");
}

const presetIds = new AsyncLocalStorage<{ traceId?: string; spanId: string }>();

/**
 * Spans started inside `fn` get these ids (the trace id matters only for a root span): a
 * run's span is exported by whichever process ends the run, under the id its steps' spans
 * already name as parent.
 */
export function withPresetIds<T>(ids: { traceId?: string; spanId: string }, fn: () => T): T {
  return presetIds.run(ids, fn);
}

/** A random span id: 16 hex digits. */
export function newSpanId(): string {
  return randomBytes(8).toString("hex");
}
