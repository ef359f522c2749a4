import type { ChatMessage, StepSettings } from "@ensemble/core";
import type { Content, GenerateContentConfig } from "@google/genai";
import { splitConversation } from "../adapter-kit/chat-turns.js";

/** Gemini's contents and config: system messages become `systemInstruction`, roles are `user` and `model`. */
export function geminiRequest(
  messages: readonly ChatMessage[],
  settings: StepSettings,
): { contents: Content[]; config: GenerateContentConfig } {
  const { system, turns } = splitConversation(messages);
  const contents = turns.map((t): Content => ({
    role: t.role === "assistant" ? "model" : "user",
    parts: [{ text: t.content }],
  }));
  const config: GenerateContentConfig = {};
  if (system !== undefined) config.systemInstruction = system;
  if (settings.temperature !== undefined) config.temperature = settings.temperature;
  if (settings.topP !== undefined) config.topP = settings.topP;
  if (settings.maxTokens !== undefined) config.maxOutputTokens = settings.maxTokens;
  if (settings.stopSequences?.length) config.stopSequences = settings.stopSequences;
  return { contents, config };
}
