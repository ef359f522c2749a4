import { ProviderError } from "../errors/provider-error.js";
import type { ProviderAdapter } from "../provider-adapter.js";
import type { FakeVendorServer } from "../testing/fake-vendor-server.js";
import { everythingShownOf, rejectionOf, vendorRequest } from "./vendor-test-helpers.js";

export interface VendorContractOptions {
  /** The provider key the adapter must report. */
  key: string;
  model: string;
  startServer: () => Promise<FakeVendorServer>;
  createAdapter: (server: FakeVendorServer, apiKey?: string) => ProviderAdapter;
  /** A fragment of the vendor's own message for a rejected key. */
  unauthorizedMessage: string;
  /** Whether the vendor reports prompt-cache writes (Anthropic); OpenAI and Gemini report reads only. */
  reportsCacheWrites: boolean;
}

/**
 * The behaviour every vendor adapter shares, run through the vendor's SDK against its fake
 * server: answers, streams, errors and their retry classification, secrets, timeouts, aborts.
 */
export function describeVendorAdapterContract(options: VendorContractOptions): void {
  const { key, model } = options;
  // What the usage says about cache writes when there were none: Anthropic reports zeros.
  const noWrites = options.reportsCacheWrites ? { cacheWriteTokens: 0, cacheWrite1hTokens: 0 } : {};
  let server: FakeVendorServer;
  let adapter: ProviderAdapter;

  beforeAll(async () => {
    server = await options.startServer();
    adapter = options.createAdapter(server);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => server.reset());

  describe(`${key} adapter contract`, () => {
    it("answers a plain call with the text, usage, finish reason and model the vendor sent", async () => {
      server.script({ text: "Six.", usage: { promptTokens: 21, completionTokens: 3 } });
      const result = await adapter.call(vendorRequest(model));
      expect(adapter.key).toBe(key);
      expect(result).toEqual({
        text: "Six.",
        finishReason: "stop",
        usage: expect.objectContaining({ promptTokens: 21, completionTokens: 3, totalTokens: 24 }),
        model,
      });
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]).toMatchObject({ model, stream: false, clientClosedEarly: false });
    });

    it("answers the default reply, deterministic from the request, when nothing is scripted", async () => {
      const result = await adapter.call(vendorRequest(model));
      expect(result.text).toBe(`Reply from ${model}: And 3+3?`);
    });

    it("streams deltas in order whose concatenation is the text, with usage (cached and reasoning too) from the stream", async () => {
      const text = "Three plus three is six, said the model.";
      server.script({ text, usage: { promptTokens: 40, completionTokens: 30, cachedTokens: 16, reasoningTokens: 12 } });
      const deltas: string[] = [];
      const result = await adapter.call(vendorRequest(model, { onToken: (d) => deltas.push(d) }));
      expect(deltas.length).toBeGreaterThan(3);
      expect(deltas.join("")).toBe(text);
      expect(deltas[0]).toBe("Three");
      expect(result).toEqual({
        text,
        finishReason: "stop",
        usage: {
          promptTokens: 40,
          completionTokens: 30,
          totalTokens: 70,
          cachedTokens: 16,
          reasoningTokens: 12,
          ...noWrites,
        },
        model,
      });
      expect(server.requests[0]).toMatchObject({ stream: true, clientClosedEarly: false });
    });

    it("reports cache reads and writes in the same fields streamed or not, each prompt token once", async () => {
      // 3,000 prompt tokens: 2,000 read from the cache, 600 written to it (200 as 1-hour entries), 400 plain.
      const usage = {
        promptTokens: 3000,
        completionTokens: 10,
        reasoningTokens: 4,
        cachedTokens: 2000,
        cacheWriteTokens: 600,
      };
      server.script({ usage: { ...usage, cacheWrite1hTokens: 200 } }, { usage: { ...usage, cacheWrite1hTokens: 200 } });
      const plain = await adapter.call(vendorRequest(model));
      const streamed = await adapter.call(vendorRequest(model, { onToken: () => undefined }));
      const expected = {
        promptTokens: 3000,
        completionTokens: 10,
        totalTokens: 3010,
        reasoningTokens: 4,
        cachedTokens: 2000,
        ...(options.reportsCacheWrites ? { cacheWriteTokens: 600, cacheWrite1hTokens: 200 } : {}),
      };
      expect(plain.usage).toEqual(expected);
      expect(streamed.usage).toEqual(expected);
    });

    it("maps a cut-off answer to finishReason length, streamed or not", async () => {
      server.script({ text: "Once upon", finishReason: "length" }, { text: "Once upon", finishReason: "length" });
      expect((await adapter.call(vendorRequest(model))).finishReason).toBe("length");
      expect((await adapter.call(vendorRequest(model, { onToken: () => undefined }))).finishReason).toBe("length");
    });

    it("turns a 429 with Retry-After into a retryable rate_limited error with retryAfterMs", async () => {
      server.script({ status: 429, retryAfterSeconds: 2 });
      const err = await rejectionOf(adapter.call(vendorRequest(model)));
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({
        code: "rate_limited",
        retryable: true,
        retryAfterMs: 2000,
        status: 429,
        provider: key,
      });
    });

    it("turns a 500 into a retryable server_error, streamed too", async () => {
      server.script({ status: 500, errorMessage: "upstream exploded" }, { status: 500 });
      const err = await rejectionOf(adapter.call(vendorRequest(model)));
      expect(err).toMatchObject({ code: "server_error", retryable: true, status: 500 });
      expect((err as Error).message).toContain("upstream exploded");
      expect(await rejectionOf(adapter.call(vendorRequest(model, { onToken: () => undefined })))).toMatchObject({
        code: "server_error",
        retryable: true,
      });
      // maxRetries 0: the SDK sent each request once.
      expect(server.requests).toHaveLength(2);
    });

    it("turns a rejected key into a non-retryable unauthorized error with the vendor's message and no trace of the key", async () => {
      const canary = `canary${Date.now().toString(36)}Q7xZ9pLm2Vw4`;
      const wrong = options.createAdapter(server, canary);
      const err = await rejectionOf(wrong.call(vendorRequest(model)));
      expect(err).toMatchObject({ code: "unauthorized", retryable: false, status: 401, provider: key });
      expect((err as Error).message).toContain(options.unauthorizedMessage);
      expect(everythingShownOf(err)).not.toContain(canary);
      expect(server.requests).toHaveLength(1);
    });

    it("ends a call to a server that never answers with a retryable timeout when AbortSignal.timeout fires, and closes the connection", async () => {
      server.script({ hang: true });
      const started = Date.now();
      const err = await rejectionOf(adapter.call(vendorRequest(model, { signal: AbortSignal.timeout(150) })));
      expect(err).toMatchObject({ code: "timeout", retryable: true, provider: key });
      expect(Date.now() - started).toBeLessThan(1000);
      await server.waitFor((requests) => requests[0]?.clientClosedEarly === true);
    });

    it("ends a stream aborted mid-way with cancelled at once, delivers nothing after the abort, and closes the connection", async () => {
      server.script({ text: Array.from({ length: 40 }, (_, i) => `word${i}`).join(" "), chunkDelayMs: 25 });
      const controller = new AbortController();
      const deltas: string[] = [];
      const call = adapter.call(
        vendorRequest(model, {
          signal: controller.signal,
          onToken: (d) => {
            deltas.push(d);
            if (deltas.length === 2) controller.abort();
          },
        }),
      );
      const err = await rejectionOf(call);
      expect(err).toMatchObject({ code: "cancelled", retryable: false, provider: key });
      expect(deltas).toEqual(["word0", " word1"]);
      await server.waitFor((requests) => requests[0]?.clientClosedEarly === true);
    });

    it("does not send a request when the signal is already aborted", async () => {
      const err = await rejectionOf(adapter.call(vendorRequest(model, { signal: AbortSignal.abort() })));
      expect(err).toMatchObject({ code: "cancelled" });
      expect(server.requests).toHaveLength(0);
    });

    it("rethrows what onToken throws as it is, and closes the stream", async () => {
      server.script({ text: Array.from({ length: 40 }, (_, i) => `w${i}`).join(" "), chunkDelayMs: 25 });
      const mine = new RangeError("caller's own bug");
      const err = await rejectionOf(
        adapter.call(
          vendorRequest(model, {
            onToken: () => {
              throw mine;
            },
          }),
        ),
      );
      expect(err).toBe(mine);
      await server.waitFor((requests) => requests[0]?.clientClosedEarly === true);
    });
  });
}
