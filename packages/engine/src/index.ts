// @ensemble/engine — the run engine shared by the api, scheduler and worker apps: execute, start, advance, run a step, cancel, sweep.
export {
  DEFAULT_ENGINE_SETTINGS,
  type EngineDeps,
  type EngineSettings,
  type RunDeps,
  type StepDeps,
} from "./engine-deps.js";
export { FlowConflictError, ForbiddenError, NotFoundError, PolicyViolationError } from "./errors/engine-errors.js";
export { ProviderCatalog, type CatalogMembership, type ProviderCatalogOptions } from "./catalog/provider-catalog.js";
export { SpendCaps, SpendCapReachedError, capPeriod, type CapPeriod, type ReachedCap } from "./spend/spend-caps.js";
export { assertFlowSchedule, removeFlowSchedule, scheduleJobSchedulerId } from "./schedule/flow-schedules.js";
export { createFlow } from "./run/create-flow.js";
export { waitForRun } from "./run/wait-for-run.js";
export { executeFlow, requestCancel, type ExecuteFlowOptions, type ExecuteFlowResult } from "./run/execute-flow.js";
export { startRun, advanceRunJob } from "./run/start-run.js";
export { cancelRun } from "./run/cancel-run.js";
export { decideApproval, timeOutApproval, type ApprovalRequest } from "./run/decide-approval.js";
export { sweepRuns } from "./run/sweep-runs.js";
export { archiveDueFlows, archiveEvents } from "./run/archive-events.js";
export {
  buildExecutionResult,
  flowTotals,
  summarizeFlowStatus,
  toFlowStepResult,
  type FlowStatusSummary,
} from "./run/records.js";
export { CompiledFlowCache } from "./run/flow-cache.js";
export { runStep } from "./step/run-step.js";
export { InFlightCalls } from "./step/in-flight-calls.js";
export {
  startScheduler,
  type Runtime,
  type SchedulerOptions,
  type SchedulerRuntime,
} from "./runtime/scheduler-runtime.js";
export { startStepWorker, type StepWorkerOptions, type StepWorkerRuntime } from "./runtime/step-worker-runtime.js";
export { createEngine, type Engine, type EngineConfig, type EngineRole } from "./runtime/create-engine.js";
export { createLogger } from "./runtime/logger.js";
export { runUntilSignalled, startRoleProcess, type ProcessRole, type RoleProcess } from "./runtime/role-process.js";
export { closeOnSignals, surviveDatabaseDisconnects, type CloseOnSignalsOptions } from "./runtime/process-lifecycle.js";
export { EngineEnvSchema, engineConfigFromEnv, parseEnv, type EngineEnv } from "./runtime/engine-env.js";
export type { EngineObserver } from "./observability/engine-observer.js";
export { ProcessMetrics } from "./observability/process-metrics.js";
export {
  startHealthServer,
  type HealthServer,
  type HealthServerOptions,
  type MetricsSource,
} from "./observability/health-server.js";
export { clusterQueueDepths } from "./observability/queue-depths.js";
export { readinessProbe, type ReadinessChecks } from "./observability/readiness.js";
