// @ensemble/core — the pure flow engine: schemas, validation, templates, conditions, planner, context policy, cost. No I/O.
export * from "./schema/enums.js";
export * from "./schema/limits.js";
export * from "./schema/context-policy.js";
export * from "./schema/flow-definition.js";
export * from "./schema/results.js";
export * from "./errors/validation-error.js";
export * from "./errors/zod-issues.js";
export * from "./template/prompt-template.js";
export * from "./template/placeholders.js";
export * from "./condition/condition-expression.js";
export * from "./hooks/hook-registry.js";
export type * from "./validation/compiled-flow.js";
export { compileFlow, compileFlowOrThrow, type CompileFlowOptions, type CompileFlowResult } from "./validation/compile-flow.js";
export { DEFAULT_MAX_ITERATIONS, DEFAULT_QUALITY_THRESHOLD } from "./validation/compile-loop.js";
export * from "./planner/index.js";
export * from "./context/index.js";
