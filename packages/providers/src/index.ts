// @ensemble/providers — the provider interface, retry classification, the registry, the offline `sim` provider and the vendor adapters (OpenAI, Anthropic, Google, OpenAI-compatible).
export type {
  FinishReason,
  ProviderAdapter,
  ProviderBatchApi,
  ProviderBatchItem,
  ProviderBatchRequest,
  ProviderBatchState,
  ProviderCallRequest,
  ProviderCallResult,
  ProviderCallTrace,
} from "./provider-adapter.js";
export { PROVIDER_ERROR_CODES, isRetryableCode, type ProviderErrorCode } from "./errors/provider-error-code.js";
export { ProviderError, type ProviderErrorJson, type ProviderErrorOptions } from "./errors/provider-error.js";
export { REDACTED, redactSecrets } from "@ensemble/core";
export { readHeader, type HttpHeaders } from "./errors/http-headers.js";
export { parseRetryAfterMs } from "./errors/retry-after.js";
export { abortedError } from "./errors/aborted-error.js";
export {
  classifyHttpStatus,
  toProviderError,
  type HttpErrorClassification,
  type ToProviderErrorOptions,
} from "./errors/classify-http-error.js";
export { ProviderRegistry, type ProviderRegistryOptions } from "./provider-registry.js";
export { createSimProvider, type SimProviderOptions } from "./sim/sim-provider.js";
export { SIM_PROVIDER_KEY } from "./sim/sim-model.js";
export { SIM_BEHAVIOUR_NAMES, SIM_SLOW_DEFAULT_LATENCY_MS, type SimBehaviourName } from "./sim/sim-behaviours.js";
export {
  createOpenAIAdapter,
  OPENAI_PROVIDER_KEY,
  OPENAI_DEFAULT_BASE_URL,
  type OpenAIAdapterOptions,
} from "./openai/openai-adapter.js";
export { isOpenAIReasoningModel, type MaxTokensField } from "./openai/openai-request.js";
export {
  createOpenAICompatibleAdapter,
  type OpenAICompatibleAdapterOptions,
} from "./openai-compatible/openai-compatible-adapter.js";
export {
  createAnthropicAdapter,
  ANTHROPIC_PROVIDER_KEY,
  ANTHROPIC_DEFAULT_BASE_URL,
  type AnthropicAdapterOptions,
} from "./anthropic/anthropic-adapter.js";
export { ANTHROPIC_DEFAULT_MAX_TOKENS } from "./anthropic/anthropic-request.js";
export {
  createGoogleAdapter,
  GOOGLE_PROVIDER_KEY,
  GOOGLE_DEFAULT_BASE_URL,
  type GoogleAdapterOptions,
} from "./google/google-adapter.js";
export {
  ProviderEnvSchema,
  OpenAICompatibleEndpointsSchema,
  OpenAICompatibleEndpointSchema,
  RESERVED_PROVIDER_KEYS,
  ProviderConfigError,
  parseProviderEnv,
  pickProviderVariables,
  type ProviderEnv,
  type OpenAICompatibleEndpoint,
} from "./config/provider-env.js";
export { providersFromEnv } from "./config/providers-from-env.js";
export { BUILT_IN_VENDORS, type BuiltInVendor } from "./config/built-in-vendors.js";
export { priceTableFromFile } from "./config/price-table-file.js";
