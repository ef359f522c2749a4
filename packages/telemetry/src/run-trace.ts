import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from "@opentelemetry/api";
import { newSpanId, tracer, tracingEnabled, withPresetIds } from "./tracing.js";

/**
 * A run's place in its trace, kept with the run (the flow row) rather than in job data: a
 * run's steps are enqueued by the API, the scheduler, workers and the sweeper's repairs, and
 * a worker may go on to the next step with no job at all; every one of them reads the row.
 */
export interface RunTrace {
  /** W3C `traceparent` of the run's span: the parent of each step attempt's span. */
  traceparent: string;
  /** The span the run was started under (the execute request's), the run span's parent. */
  parentSpanId: string | null;
}

/**
 * A new run's trace, under the active span (the execute request's, which itself continues a
 * caller's `traceparent`). Null when tracing is off: nothing is stored, nothing is exported.
 */
export function newRunTrace(): RunTrace | null {
  if (!tracingEnabled()) return null;
  const parent = trace.getActiveSpan()?.spanContext();
  const traceId = parent && trace.isSpanContextValid(parent) ? parent.traceId : randomTraceId();
  const flags = parent ? parent.traceFlags : 1;
  return {
    traceparent: `00-${traceId}-${newSpanId()}-${flags.toString(16).padStart(2, "0")}`,
    parentSpanId: parent && trace.isSpanContextValid(parent) ? parent.spanId : null,
  };
}

function randomTraceId(): string {
  return `${newSpanId()}${newSpanId()}`;
}

/** The context whose parent is the run's span (for a step attempt's span). */
function runContext(runTrace: RunTrace) {
  return propagation.extract(ROOT_CONTEXT, { traceparent: runTrace.traceparent });
}

export interface StepAttemptAttributes {
  flowId: string;
  run: number;
  stepId: string;
  iteration: number;
  attempt: number;
}

/**
 * Runs one step attempt inside its span (a child of the run's span), so the provider call's
 * span nests under it. `outcome` names how the attempt ended.
 */
export async function withStepAttemptSpan<T>(
  runTrace: RunTrace | null | undefined,
  step: StepAttemptAttributes,
  fn: () => Promise<T>,
  outcome: (result: T) => string,
): Promise<T> {
  if (!runTrace || !tracingEnabled()) return fn();
  const span = tracer().startSpan(
    `step ${step.stepId}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        "ensemble.flow.id": step.flowId,
        "ensemble.run": step.run,
        "ensemble.step.id": step.stepId,
        "ensemble.step.iteration": step.iteration,
        "ensemble.attempt": step.attempt,
      },
    },
    runContext(runTrace),
  );
  try {
    const result = await context.with(trace.setSpan(context.active(), span), fn);
    span.setAttribute("ensemble.step.outcome", outcome(result));
    return result;
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

export interface RunSpan {
  flowId: string;
  run: number;
  name: string;
  status: string;
  startedAt: Date;
  endedAt: Date;
  costUsd?: number;
  totalTokens?: number;
  error?: { code: string; message: string } | null;
}

/**
 * Exports the span of a run that has ended, under the id its steps' spans name as parent,
 * from its start to its end. Called once, by the process that committed the run's end.
 */
export function recordRunSpan(runTrace: RunTrace | null | undefined, run: RunSpan): void {
  if (!runTrace || !tracingEnabled()) return;
  const [, traceId, spanId, flags] = runTrace.traceparent.split("-");
  if (!traceId || !spanId) return;
  const parent = runTrace.parentSpanId
    ? trace.setSpanContext(ROOT_CONTEXT, {
        traceId,
        spanId: runTrace.parentSpanId,
        traceFlags: Number.parseInt(flags ?? "01", 16),
        isRemote: true,
      })
    : ROOT_CONTEXT; // started outside any request span: the run's span is its trace's root
  const attributes: Attributes = {
    "ensemble.flow.id": run.flowId,
    "ensemble.run": run.run,
    "ensemble.run.status": run.status,
    ...(run.costUsd !== undefined ? { "ensemble.cost_usd": run.costUsd } : {}),
    ...(run.totalTokens !== undefined ? { "ensemble.total_tokens": run.totalTokens } : {}),
  };
  const span = withPresetIds({ traceId, spanId }, () =>
    tracer().startSpan(`run ${run.name}`, { kind: SpanKind.INTERNAL, startTime: run.startedAt, attributes }, parent),
  );
  if (run.error) span.setStatus({ code: SpanStatusCode.ERROR, message: `${run.error.code}: ${run.error.message}` });
  span.end(run.endedAt);
}

export function failSpan(span: Span, error: unknown): void {
  const code =
    error && typeof error === "object" && "code" in error && typeof error.code === "string" ? error.code : undefined;
  span.setAttribute("error.type", code ?? (error instanceof Error ? error.name : "error"));
  span.setStatus({ code: SpanStatusCode.ERROR, ...(error instanceof Error ? { message: error.message } : {}) });
}
