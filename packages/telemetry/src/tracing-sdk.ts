import { context, propagation, trace } from "@opentelemetry/api";
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

/**
 * The OpenTelemetry SDK, registered as the global tracer provider. Loaded only by a process
 * that exports traces (`startTracing`): the SDK and its OTLP exporter are ~4 MB of heap
 * that a process with tracing off never uses.
 */
export function registerTracerProvider(options: {
  serviceName: string;
  /** Where spans go instead of OTLP (tests). */
  exporter?: SpanExporter;
  /** The ids a span started now must have (a run's span), if any. */
  presetIds: () => { traceId?: string; spanId: string } | undefined;
}): { shutdown(): Promise<void> } {
  const random = new RandomIdGenerator();
  const idGenerator: IdGenerator = {
    generateTraceId: () => options.presetIds()?.traceId ?? random.generateTraceId(),
    generateSpanId: () => options.presetIds()?.spanId ?? random.generateSpanId(),
  };
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName }).merge(
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
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
