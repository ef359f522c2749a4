// Traces: one per run across the API, scheduler and worker processes (docs/observability.md).
export { startTracing, tracesRequested, tracingEnabled, type Tracing } from "./tracing.js";
export { newRunTrace, recordRunSpan, withStepAttemptSpan, type RunSpan, type RunTrace } from "./run-trace.js";
export { withProviderCallSpan, type ProviderCallEnd, type ProviderCallStart } from "./provider-call-span.js";
export { httpRequestSpans } from "./http-span.js";
