import type { ChatMessage } from "@ensemble/core";
import { anthropicMinCacheTokens } from "./anthropic-cache.js";
import { anthropicMessagesBody } from "./anthropic-request.js";

const LONG = "x".repeat(4 * 1500); // about 1,500 tokens
const body = (messages: ChatMessage[], model = "claude-sonnet-4-5") => anthropicMessagesBody(model, messages, {});
const marked = { type: "ephemeral" };

describe("Anthropic cache breakpoint", () => {
  it("splits a history turn merged with the step's message where the stable part ends", () => {
    const out = body([
      { role: "system", content: "S" },
      { role: "user", content: LONG },
      { role: "user", content: "Original request:\nQ\n\nStep part", stablePrefixLength: "Original request:\nQ".length },
    ]);
    expect(out.system).toBe("S");
    expect(out.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: `${LONG}\n\nOriginal request:\nQ`, cache_control: marked },
          { type: "text", text: "\n\nStep part" },
        ],
      },
    ]);
  });

  it("ends the prefix with the history when nothing of the step's message is stable", () => {
    const history: ChatMessage[] = [
      { role: "user", content: LONG },
      { role: "assistant", content: "A" },
    ];
    expect(body([...history, { role: "user", content: "Own", stablePrefixLength: 0 }]).messages).toEqual([
      { role: "user", content: LONG },
      { role: "assistant", content: [{ type: "text", text: "A", cache_control: marked }] },
      { role: "user", content: "Own" },
    ]);
    // Merged into the last history turn: the breakpoint block ends before the blank line.
    const merged = body([
      { role: "user", content: LONG },
      { role: "user", content: "Own", stablePrefixLength: 0 },
    ]);
    expect(merged.messages[0]?.content).toEqual([
      { type: "text", text: LONG, cache_control: marked },
      { type: "text", text: "\n\nOwn" },
    ]);
  });

  it("marks the system prompt when it is the whole stable prefix", () => {
    const out = body([
      { role: "system", content: LONG },
      { role: "user", content: "Own", stablePrefixLength: 0 },
    ]);
    expect(out.system).toEqual([{ type: "text", text: LONG, cache_control: marked }]);
    expect(out.messages).toEqual([{ role: "user", content: "Own" }]);
  });

  it("adds no breakpoint below the model's minimum, or without a marked message", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: LONG },
      { role: "user", content: "Own", stablePrefixLength: 0 },
    ];
    // Claude Haiku 4.5 caches from 4,096 tokens: 1,500 are too few.
    expect(JSON.stringify(body(messages, "claude-haiku-4-5"))).not.toContain("cache_control");
    expect(JSON.stringify(body([{ role: "user", content: LONG }]))).not.toContain("cache_control");
  });

  it.each([
    ["claude-sonnet-4-5", 1024],
    ["claude-opus-4-1-20250805", 1024],
    ["claude-3-5-haiku-latest", 2048],
    ["claude-3-haiku-20240307", 2048],
    ["claude-haiku-4-5", 4096],
    ["claude-opus-4-5", 4096],
  ])("%s caches prefixes from %d tokens", (model, tokens) => {
    expect(anthropicMinCacheTokens(model)).toBe(tokens);
  });
});
