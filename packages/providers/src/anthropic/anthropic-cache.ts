import type Anthropic from "@anthropic-ai/sdk";
import type { ChatMessage } from "@ensemble/core";

/** A rough token count (about 4 characters a token), enough to tell whether a prefix may be cached. */
const CHARS_PER_TOKEN = 4;

/**
 * The shortest prefix Anthropic caches, in tokens: 1,024 for most models, 2,048 for the Claude 3
 * and 3.5 Haiku models, 4,096 for Claude Opus 4.5 and later and Claude Haiku 4.5. A shorter
 * prefix with a breakpoint is simply not cached, so the check only saves a useless marker.
 */
export function anthropicMinCacheTokens(model: string): number {
  const name = model.trim().toLowerCase();
  if (/^claude-(?:opus-4-[5-9]|haiku-4-5)/.test(name)) return 4096;
  if (/^claude-3-(?:5-)?haiku/.test(name)) return 2048;
  return 1024;
}

/** Where the stable prefix ends: in the system prompt (all of it) or `chars` into turn `turn`. */
type PrefixEnd = { turn: number; chars: number } | "system";

/**
 * Follows splitConversation's merge (same-role neighbours joined by a blank line) to find where
 * the last message with a `stablePrefixLength` has its stable part end in the turns.
 */
function stablePrefixEnd(messages: readonly ChatMessage[], turnLengths: readonly number[]): PrefixEnd | undefined {
  const marked = messages.findLastIndex((m) => m.role !== "system" && m.stablePrefixLength !== undefined);
  if (marked < 0) return undefined;
  let turn = -1;
  let role: string | undefined;
  let length = 0;
  for (const [i, message] of messages.entries()) {
    if (message.role === "system") continue;
    const merged = message.role === role;
    const offset = merged ? length + 2 : 0;
    if (merged) length += 2 + message.content.length;
    else [turn, role, length] = [turn + 1, message.role, message.content.length];
    if (i !== marked) continue;
    const stable = Math.min(message.stablePrefixLength ?? 0, message.content.length);
    if (stable > 0) return { turn, chars: offset + stable };
    // Nothing of this message is stable: the prefix ends with what precedes it.
    if (merged) return { turn, chars: offset - 2 };
    return turn > 0 ? { turn: turn - 1, chars: turnLengths[turn - 1] ?? 0 } : "system";
  }
  return undefined;
}

/**
 * Marks the flow's stable prefix (system prompt, thread history, original request) with a
 * `cache_control` breakpoint when it is long enough to cache, so the steps after the first read
 * it at a tenth of the input price. The turn holding the boundary becomes two text blocks whose
 * text joins to the same content. Changes `body` in place.
 */
export function addCacheBreakpoint(
  body: Anthropic.MessageCreateParamsNonStreaming,
  messages: readonly ChatMessage[],
): void {
  const turns = body.messages;
  const lengths = turns.map((t) => (typeof t.content === "string" ? t.content.length : 0));
  const end = stablePrefixEnd(messages, lengths);
  if (end === undefined) return;
  const system = typeof body.system === "string" ? body.system : "";
  const prefixChars =
    system.length + (end === "system" ? 0 : lengths.slice(0, end.turn).reduce((a, b) => a + b, 0) + end.chars);
  if (prefixChars / CHARS_PER_TOKEN < anthropicMinCacheTokens(body.model)) return;
  const cacheControl: Anthropic.CacheControlEphemeral = { type: "ephemeral" };
  if (end === "system") {
    if (system) body.system = [{ type: "text", text: system, cache_control: cacheControl }];
    return;
  }
  const turn = turns[end.turn];
  if (!turn || typeof turn.content !== "string") return;
  const text = turn.content;
  const blocks: Anthropic.TextBlockParam[] = [
    { type: "text", text: text.slice(0, end.chars), cache_control: cacheControl },
  ];
  if (end.chars < text.length) blocks.push({ type: "text", text: text.slice(end.chars) });
  turn.content = blocks;
}
