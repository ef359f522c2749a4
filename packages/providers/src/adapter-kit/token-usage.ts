import type { TokenUsage } from "@ensemble/core";

export interface UsageCounts {
  promptTokens: number;
  completionTokens: number;
  /** Default: prompt + completion. */
  totalTokens?: number | null | undefined;
  cachedTokens?: number | null | undefined;
  cacheWriteTokens?: number | null | undefined;
  cacheWrite1hTokens?: number | null | undefined;
  reasoningTokens?: number | null | undefined;
}

function count(value: number | null | undefined): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
}

/**
 * A TokenUsage from a vendor's counts; cache and reasoning counts only when the vendor
 * reported them (absent means "not reported", 0 means "reported none").
 */
export function tokenUsage(counts: UsageCounts): TokenUsage {
  const promptTokens = count(counts.promptTokens) ?? 0;
  const completionTokens = count(counts.completionTokens) ?? 0;
  const usage: TokenUsage = {
    promptTokens,
    completionTokens,
    totalTokens: count(counts.totalTokens) ?? promptTokens + completionTokens,
  };
  for (const field of ["cachedTokens", "cacheWriteTokens", "cacheWrite1hTokens", "reasoningTokens"] as const) {
    const value = count(counts[field]);
    if (value !== undefined) usage[field] = value;
  }
  return usage;
}
