// @ensemble/queue — queue names, the job catalog, producers and workers on BullMQ, the
// ioredis connection, the progress bus and cancel signals. The only package that imports
// bullmq and ioredis.
export {
  closeRedisConnection,
  createRedisConnection,
  type CreateRedisConnectionOptions,
  type RedisConnectionRole,
} from "./connection.js";
export {
  callRedis,
  isRedisUnavailable,
  toRedisUnavailable,
  waitForRedisReady,
  whenFailFastReady,
} from "./redis-availability.js";
export { RedisUnavailableError } from "./errors/redis-unavailable-error.js";
export { FlowEventsLostError } from "./errors/flow-events-lost-error.js";
export { EarlierEventsUnpublishedError } from "./errors/earlier-events-unpublished-error.js";
export { isRedisMemoryFull, readRedisMemory, REDIS_MEMORY_FULL_RATIO, type RedisMemory } from "./redis-memory.js";
export { NonRetryableJobError } from "./errors/non-retryable-job-error.js";
export { InvalidJobPayloadError } from "./errors/invalid-job-payload-error.js";
export { DEFAULT_QUEUE_PREFIX, QUEUE_NAMES, stepQueueName, type QueueName } from "./queue-names.js";
export {
  CancelReasonSchema,
  FlowAdvancePayloadSchema,
  FlowArchiveEventsPayloadSchema,
  FlowArchiveDuePayloadSchema,
  FlowCancelPayloadSchema,
  FlowStartPayloadSchema,
  FlowSweepPayloadSchema,
  JOB_CATALOG,
  JOB_NAMES,
  JobDispatchSchema,
  StepRunPayloadSchema,
  isJobName,
  parseJobPayload,
  type CancelReason,
  type JobCatalog,
  type JobDefinition,
  type JobDispatch,
  type JobName,
  type JobNameOnQueue,
  type JobPayload,
  type KeepJobsPolicy,
} from "./job-catalog.js";
export { jobIdFor, type JobIdOptions } from "./job-id.js";
export { queueForJob, type AddJobOptions, type RetryPolicyOverrides } from "./job-options.js";
export {
  JobProducer,
  type BulkJob,
  type EnqueuedJob,
  type JobProducerOptions,
  type QueueDepth,
  type UpsertScheduleOptions,
} from "./job-producer.js";
export { createJobWorker, type JobHandler, type JobHandlers, type JobWorkerOptions } from "./job-worker.js";
export { closeGracefully, type CloseGracefullyOptions, type CloseGracefullyResult } from "./close-gracefully.js";
export {
  ProgressBus,
  type ProgressBusOptions,
  type PublishEventInput,
  type RelayedEvent,
  type SubscribeOptions,
} from "./progress-bus.js";
export { followEvents, type FollowEventsOptions } from "./follow-events.js";
export { CancelSignals, type CancelSignalsOptions } from "./cancel-signals.js";
export { ArchiveSchedule, type ArchiveScheduleOptions, type DueArchive } from "./archive-schedule.js";
export {
  ClusterMetrics,
  RUN_DURATION_BUCKETS_SECONDS,
  STEP_LATENCY_BUCKETS_SECONDS,
  type ClusterMetricsOptions,
  type HistogramSeries,
  type RunSample,
  type StepMetricsSnapshot,
  type StepSample,
} from "./cluster-metrics.js";
export type { SubscriberSource } from "./shared-subscriber.js";
// BullMQ types that appear in this package's signatures (handlers get a Job; Bull Board takes Queues).
export type { Job, Queue, Worker } from "bullmq";
export type { Redis } from "ioredis";
export { deferJob } from "./defer-job.js";
export {
  FairShare,
  fairPriority,
  priorityClassOf,
  promotedClass,
  PRIORITY_CLASS_WIDTH,
  type FairShareOptions,
  type InFlightSlot,
  type StepAdmission,
} from "./fair-share.js";
export {
  ProviderRateLimiter,
  RateLimitSchema,
  RateLimitsSchema,
  type AdmitResult,
  type ProviderRateLimiterOptions,
  type RateLimit,
  type RateLimitSlot,
  type RateLimits,
} from "./provider-rate-limiter.js";
export { defineRedisScript, type RedisScript } from "./redis-script.js";
