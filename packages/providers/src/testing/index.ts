// @ensemble/providers/testing — local fake vendor servers (OpenAI, Anthropic, Gemini) for tests. Never import from production code.
export {
  startFakeVendors,
  startFakeOpenAI,
  startFakeAnthropic,
  startFakeGemini,
  type FakeVendors,
  type FakeVendorEnv,
} from "./start-fake-vendors.js";
export type { FakeVendorServer, FakeVendorServerOptions } from "./fake-vendor-server.js";
export {
  defaultFakeText,
  type FakeReply,
  type FakeResponder,
  type FakeUsage,
  type FakeVendorName,
  type RecordedRequest,
} from "./fake-reply.js";
export type { FakeBatch, FakeBatchItem, FakeBatchOutcome, FakeBatchSettings } from "./fake-batches.js";
