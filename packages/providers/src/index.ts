// @ensemble/providers — the provider interface, retry classification, the registry and the offline `sim` provider.
export type { FinishReason, ProviderAdapter, ProviderCallRequest, ProviderCallResult, ProviderCallTrace } from "./provider-adapter.js";
export { PROVIDER_ERROR_CODES, isRetryableCode, type ProviderErrorCode } from "./errors/provider-error-code.js";
export { ProviderError, type ProviderErrorJson, type ProviderErrorOptions } from "./errors/provider-error.js";
export { REDACTED, redactSecrets } from "./errors/redact-secrets.js";
export { readHeader, type HttpHeaders } from "./errors/http-headers.js";
export { parseRetryAfterMs } from "./errors/retry-after.js";
export { abortedError } from "./errors/aborted-error.js";
export { classifyHttpStatus, toProviderError, type HttpErrorClassification, type ToProviderErrorOptions } from "./errors/classify-http-error.js";
export { ProviderRegistry, type ProviderRegistryOptions } from "./provider-registry.js";
export { createSimProvider, type SimProviderOptions } from "./sim/sim-provider.js";
export { SIM_PROVIDER_KEY } from "./sim/sim-model.js";
export { SIM_BEHAVIOUR_NAMES, SIM_SLOW_DEFAULT_LATENCY_MS, type SimBehaviourName } from "./sim/sim-behaviours.js";
