import { toProviderError } from "./classify-http-error.js";
import { ProviderError } from "./provider-error.js";
import { redactSecrets } from "@ensemble/core";

const OPENAI_KEY = "sk-proj-AbC123dEf456GhI789jKl012MnO345pQr678";
const LEGACY_OPENAI_KEY = "sk-1234567890abcdefghijklmnopqrstuvwxyzABCDEFGH";
const ANTHROPIC_KEY = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEf";
const GOOGLE_KEY = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q";
const ALL_KEYS = [OPENAI_KEY, LEGACY_OPENAI_KEY, ANTHROPIC_KEY, GOOGLE_KEY];

describe("redactSecrets", () => {
  it.each([
    [`Incorrect API key provided: ${OPENAI_KEY}.`, "Incorrect API key provided: sk-[REDACTED]."],
    [`bad key ${LEGACY_OPENAI_KEY}`, "bad key sk-[REDACTED]"],
    [`invalid x-api-key ${ANTHROPIC_KEY}`, "invalid x-api-key sk-ant-[REDACTED]"],
    [
      `GET https://generativelanguage.googleapis.com/v1beta/models?key=${GOOGLE_KEY}&alt=sse`,
      "GET https://generativelanguage.googleapis.com/v1beta/models?key=[REDACTED]&alt=sse",
    ],
    [`key ${GOOGLE_KEY} expired`, "key AIza[REDACTED] expired"],
    ["Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "Authorization: Bearer [REDACTED]"],
    ['{"api-key": "0123456789abcdef"}', '{"api-key": "[REDACTED]"}'],
    ["x-goog-api-key: abcdefgh12345678", "x-goog-api-key: [REDACTED]"],
  ])("masks %s", (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it("leaves ordinary text alone", () => {
    const text = "task-based scikit-learn flow; the model said: ask-me anything; Bearer of bad news";
    expect(redactSecrets(text)).toBe(text);
  });
});

describe("ProviderError redaction", () => {
  it("never carries a key in its message, stack, JSON or cause", () => {
    for (const key of ALL_KEYS) {
      const cause = new Error(`401 Incorrect API key provided: ${key}`);
      const err = new ProviderError(`openai: HTTP 401: ${cause.message}`, {
        code: "unauthorized",
        provider: "openai",
        status: 401,
        cause,
      });
      expect(err.message).not.toContain(key);
      expect(err.stack).not.toContain(key);
      expect(JSON.stringify(err)).not.toContain(key);
      expect((err.cause as Error).message).not.toContain(key);
      expect((err.cause as Error).stack).not.toContain(key);
    }
  });

  it("keeps a cause without secrets as it is", () => {
    const cause = new Error("plain");
    expect(new ProviderError("x", { code: "server_error", provider: "p", cause }).cause).toBe(cause);
  });

  it("redacts what toProviderError builds from an SDK error", () => {
    const sdkError = Object.assign(new Error(`Incorrect API key provided: ${OPENAI_KEY}`), { status: 401 });
    const err = toProviderError("openai", sdkError);
    expect(err.message).toBe("openai: HTTP 401 (unauthorized): Incorrect API key provided: sk-[REDACTED]");
    expect(err.retryable).toBe(false);
  });

  it("serializes to the safe fields only", () => {
    const err = new ProviderError("slow down", {
      code: "rate_limited",
      provider: "anthropic",
      status: 429,
      retryAfterMs: 1000,
      cause: new Error("x"),
    });
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      name: "ProviderError",
      code: "rate_limited",
      message: "slow down",
      provider: "anthropic",
      retryable: true,
      retryAfterMs: 1000,
      status: 429,
    });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("ProviderError");
  });
});
