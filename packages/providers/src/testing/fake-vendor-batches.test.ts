import Anthropic from "@anthropic-ai/sdk";
import OpenAI, { toFile } from "openai";
import { startFakeAnthropic, startFakeOpenAI, type FakeVendorServer } from "./index.js";

const chatLine = (customId: string, content: string): string =>
  JSON.stringify({
    custom_id: customId,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content }] },
  });

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("the batch never ended");
}

describe("fake OpenAI batches, through the official SDK", () => {
  let server: FakeVendorServer;
  let client: OpenAI;
  beforeAll(async () => {
    server = await startFakeOpenAI({ batches: { completionDelayMs: 60 } });
    client = new OpenAI({ apiKey: server.apiKey, baseURL: server.url, maxRetries: 0 });
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  async function submit(lines: string[]): Promise<OpenAI.Batch> {
    const file = await client.files.create({
      file: await toFile(Buffer.from(lines.join("\n")), "input.jsonl"),
      purpose: "batch",
    });
    expect(file).toMatchObject({ object: "file", purpose: "batch", filename: "input.jsonl" });
    return client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
  }

  const retrieve = (id: string) => () => client.batches.retrieve(id);
  const ended = (batch: OpenAI.Batch): boolean => !["validating", "in_progress", "cancelling"].includes(batch.status);
  const lines = async (fileId: string): Promise<Record<string, unknown>[]> =>
    (await (await client.files.content(fileId)).text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  it("answers each item after the delay, in an output file, with no chat call", async () => {
    server.script({ text: "first" }, { status: 400, errorMessage: "bad item" });
    const created = await submit([chatLine("a", "one"), chatLine("b", "two"), chatLine("c", "three")]);
    expect(created.status).toBe("in_progress");
    const done = await until(retrieve(created.id), ended);
    expect(done).toMatchObject({ status: "completed", request_counts: { total: 3, completed: 2, failed: 1 } });
    const output = await lines(done.output_file_id ?? "");
    expect(output.map((line) => line.custom_id)).toEqual(["a", "b", "c"]);
    expect(output[0]).toMatchObject({
      response: { status_code: 200, body: { object: "chat.completion", choices: [{ message: { content: "first" } }] } },
      error: null,
    });
    expect(output[1]).toMatchObject({ response: { status_code: 400, body: { error: { message: "bad item" } } } });
    expect(output[2]).toMatchObject({
      response: {
        body: {
          choices: [{ message: { content: "Reply from gpt-4o-mini: three" } }],
          usage: { prompt_tokens: expect.any(Number) },
        },
      },
    });
    expect(server.batches[0]?.items.map((item) => item.request.prompt)).toEqual([
      "user: one",
      "user: two",
      "user: three",
    ]);
    expect(server.requests.some((r) => r.path === "/v1/chat/completions")).toBe(false);
  });

  it("expires every item when configured to, in the error file", async () => {
    server.configureBatches({ outcome: "expired" });
    const created = await submit([chatLine("a", "one")]);
    const done = await until(retrieve(created.id), ended);
    expect(done).toMatchObject({ status: "expired", output_file_id: null });
    expect(await lines(done.error_file_id ?? "")).toMatchObject([
      { custom_id: "a", response: null, error: { code: "batch_expired" } },
    ]);
  });

  it("cancels: cancelling, then cancelled with the items in the error file", async () => {
    server.configureBatches({ completionDelayMs: 60_000 });
    const created = await submit([chatLine("a", "one"), chatLine("b", "two")]);
    expect((await client.batches.cancel(created.id)).status).toBe("cancelling");
    const done = await until(retrieve(created.id), ended);
    expect(done.status).toBe("cancelled");
    expect((await lines(done.error_file_id ?? "")).map((line) => line.error)).toMatchObject([
      { code: "batch_cancelled" },
      { code: "batch_cancelled" },
    ]);
  });

  it("fails a batch whose input has a bad line, naming the line", async () => {
    const created = await submit([chatLine("a", "one"), "{not json"]);
    const done = await until(retrieve(created.id), ended);
    expect(done).toMatchObject({ status: "failed", errors: { data: [{ code: "invalid_json_line", line: 2 }] } });
  });

  it("refuses a batch for another endpoint and an unknown batch", async () => {
    await expect(
      client.batches.create({ input_file_id: "file-nope", endpoint: "/v1/chat/completions", completion_window: "24h" }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(client.batches.retrieve("batch_nope")).rejects.toMatchObject({ status: 404 });
  });
});

describe("fake Anthropic message batches, through the official SDK", () => {
  let server: FakeVendorServer;
  let client: Anthropic;
  beforeAll(async () => {
    server = await startFakeAnthropic({ batches: { completionDelayMs: 60 } });
    client = new Anthropic({ apiKey: server.apiKey, authToken: null, baseURL: server.url, maxRetries: 0 });
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  const request = (customId: string, content: string): Anthropic.Messages.BatchCreateParams.Request => ({
    custom_id: customId,
    params: { model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content }] },
  });
  const retrieve = (id: string) => () => client.messages.batches.retrieve(id);
  const ended = (batch: Anthropic.Messages.MessageBatch): boolean => batch.processing_status === "ended";
  async function results(id: string): Promise<Anthropic.Messages.MessageBatchIndividualResponse[]> {
    const all: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
    for await (const line of await client.messages.batches.results(id)) all.push(line);
    return all;
  }

  it("answers each item after the delay, with results as JSONL and no messages call", async () => {
    server.script({ text: "first" }, { status: 529 });
    const created = await client.messages.batches.create({
      requests: [request("a", "one"), request("b", "two"), request("c", "three")],
    });
    expect(created).toMatchObject({
      processing_status: "in_progress",
      request_counts: { processing: 3 },
      results_url: null,
    });
    const done = await until(retrieve(created.id), ended);
    expect(done.request_counts).toEqual({ processing: 0, succeeded: 2, errored: 1, canceled: 0, expired: 0 });
    const lines = await results(created.id);
    expect(lines.map((line) => line.custom_id)).toEqual(["a", "b", "c"]);
    expect(lines[0]?.result).toMatchObject({
      type: "succeeded",
      message: { content: [{ type: "text", text: "first" }] },
    });
    expect(lines[1]?.result).toMatchObject({ type: "errored", error: { error: { type: "overloaded_error" } } });
    expect(lines[2]?.result).toMatchObject({
      type: "succeeded",
      message: {
        content: [{ text: "Reply from claude-sonnet-4-5: three" }],
        usage: { output_tokens: expect.any(Number) },
      },
    });
    expect(server.requests.some((r) => r.path === "/v1/messages")).toBe(false);
  });

  it("cancels: canceling, then ended with every item canceled", async () => {
    server.configureBatches({ completionDelayMs: 60_000 });
    const created = await client.messages.batches.create({ requests: [request("a", "one")] });
    expect((await client.messages.batches.cancel(created.id)).processing_status).toBe("canceling");
    await until(retrieve(created.id), ended);
    expect((await results(created.id)).map((line) => line.result.type)).toEqual(["canceled"]);
  });

  it("expires every item when configured to", async () => {
    server.configureBatches({ outcome: "expired" });
    const created = await client.messages.batches.create({ requests: [request("a", "one")] });
    const done = await until(retrieve(created.id), ended);
    expect(done.request_counts.expired).toBe(1);
    expect((await results(created.id)).map((line) => line.result.type)).toEqual(["expired"]);
  });

  it("refuses duplicate custom ids and gives no results while in progress", async () => {
    await expect(
      client.messages.batches.create({ requests: [request("a", "one"), request("a", "two")] }),
    ).rejects.toMatchObject({ status: 400 });
    server.configureBatches({ completionDelayMs: 60_000 });
    const created = await client.messages.batches.create({ requests: [request("a", "one")] });
    await expect(client.messages.batches.results(created.id)).rejects.toThrow(/Has it finished processing/);
  });
});
