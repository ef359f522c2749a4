export * from "./step-record.js";
export * from "./plan-next-steps.js";
export * from "./resolve-inputs.js";
export * from "./final-output.js";
export * from "./loop-progress.js";
export * from "./retry-backoff.js";
export * from "./step-targets.js";
export * from "./budget.js";
