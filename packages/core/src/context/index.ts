export * from "./tokenizer.js";
export * from "./token-budget.js";
export * from "./build-step-messages.js";
export * from "./build-step-context.js";
export * from "./data-sharing.js";
export * from "./approval-prompt.js";
