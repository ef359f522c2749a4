import { AsyncLocalStorage } from "node:async_hooks";
import { context, propagation, trace, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  RandomIdGenerator,
  SimpleSpanProcessor,
  TracerProvider,
  type IdGenerator,
  type SpanExporter,
} from "@opentelemetry/sdk-trace";

export interface Tracing {
  /** False when no exporter is configured: every span helper then runs its function and nothing else. */
  readonly enabled: boolean;
  /** Exports what is buffered and stops (call on shutdown). */
  shutdown(): Promise<void>;
}

const DISABLED: Tracing = { enabled: false, shutdown: async () => undefined };
let current: Tracing = DISABLED;

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
 * Otherwise nothing is registered, and the span helpers cost one boolean check.
 */
export function startTracing(options: {
  serviceName: string;
  env?: NodeJS.ProcessEnv;
  /** Where spans go instead of OTLP (tests); tracing is then on whatever the environment says. */
  exporter?: SpanExporter;
}): Tracing {
  const env = options.env ?? process.env;
  if (current.enabled || (!options.exporter && !tracesRequested(env))) return current;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || options.serviceName }).merge(
      detectResources({ detectors: [envDetector] }),
    ),
    idGenerator,
    spanProcessors: [
      options.exporter
        ? new SimpleSpanProcessor({ exporter: options.exporter })
        : new BatchSpanProcessor({ exporter: new OTLPTraceExporter() }),
    ],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  current = {
    enabled: true,
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      current = DISABLED;
    },
  };
  return current;
}

export function tracingEnabled(): boolean {
  return current.enabled;
}

export function tracer(): Tracer {
  return trace.getTracer("ensemble");
}

const presetIds = new AsyncLocalStorage<{ traceId?: string; spanId: string }>();

/**
 * Random ids, except for a span started inside `withPresetIds`: a run's span is exported by
 * whichever process ends the run, under the id its steps' spans already name as parent.
 */
const idGenerator: IdGenerator = (() => {
  const random = new RandomIdGenerator();
  return {
    generateTraceId: () => presetIds.getStore()?.traceId ?? random.generateTraceId(),
    generateSpanId: () => presetIds.getStore()?.spanId ?? random.generateSpanId(),
  };
})();

/** Spans started inside `fn` get these ids (the trace id matters only for a root span). */
export function withPresetIds<T>(ids: { traceId?: string; spanId: string }, fn: () => T): T {
  return presetIds.run(ids, fn);
}

export function newSpanId(): string {
  return new RandomIdGenerator().generateSpanId();
}
