import type { ChatMessage } from "@ensemble/core";

export interface ChatTurn {
  role: "user" | "assistant";
  content: string;
}

export interface SplitConversation {
  /** Every system message, in order, joined by a blank line; undefined when there is none. */
  system: string | undefined;
  /** User and assistant messages with consecutive same-role messages merged, oldest first. */
  turns: ChatTurn[];
}

/**
 * For vendors that take the system prompt apart from the conversation (Anthropic's top-level
 * `system`, Gemini's `systemInstruction`) and want strictly alternating turns: a system message
 * anywhere in the list joins the system prompt, and two user (or assistant) messages in a row
 * become one, separated by a blank line, so no vendor rejects the order.
 */
export function splitConversation(messages: readonly ChatMessage[]): SplitConversation {
  const system: string[] = [];
  const turns: ChatTurn[] = [];
  for (const message of messages) {
    if (message.role === "system") {
      system.push(message.content);
      continue;
    }
    const last = turns.at(-1);
    if (last && last.role === message.role) last.content = `${last.content}\n\n${message.content}`;
    else turns.push({ role: message.role, content: message.content });
  }
  return { system: system.length > 0 ? system.join("\n\n") : undefined, turns };
}
