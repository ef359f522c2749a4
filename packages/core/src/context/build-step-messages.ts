import type { ConversationMessage, MessageRole } from "../schema/results.js";
import {
  currentDraftRecord,
  labelOutput,
  previousSource,
  recordAge,
  upstreamOutputs,
} from "../planner/resolve-inputs.js";
import { getRecord, latestIteration, latestSuccess, type RunState, type StepRecord } from "../planner/step-record.js";
import { renderTemplate, type ParsedTemplate } from "../template/prompt-template.js";
import type { CompiledStep } from "../validation/compiled-flow.js";
import { fitToTokenBudget, type ContextSegment } from "./token-budget.js";
import { defaultTokenCounter, type TokenCounter } from "./tokenizer.js";

export interface ChatMessage {
  role: MessageRole;
  content: string;
  /**
   * Set on the step's own message: how many leading characters of its content every step of
   * the flow sends alike (the original request), so that, with all messages before it (system
   * prompt, thread history), they form the prefix a vendor's prompt cache can serve.
   */
  stablePrefixLength?: number;
}

export interface StepMessagesOptions {
  /** The thread's conversation history, oldest first. */
  history?: readonly ConversationMessage[];
  /** Whether this provider may see history under the caller's data-sharing policy. */
  historyAllowed?: boolean;
  /** What the step's prompt hook returned, for `{ "hook": … }` prompts. */
  hookPrompt?: string;
  tokenCounter?: TokenCounter;
}

export interface StepMessages {
  messages: ChatMessage[];
  /** Shared context sent (history + earlier outputs), in tokens, after trimming. */
  sharedTokens: number;
  droppedSegments: number;
  truncatedSegments: number;
  /** Earlier step outputs this request carries, for the cross-provider data-sharing check. */
  sources: { stepId: string; iteration: number; provider: string }[];
  includesHistory: boolean;
}

const recordKey = (r: StepRecord): string => `output:${r.stepId}#${r.iteration}`;

/**
 * The provider request of one step instance, under the flow's context policy:
 * the system prompt, shared thread history, and one user message made of the
 * rendered prompt plus (when the prompt does not place them itself) the original
 * request and the step's input. Shared context is capped at maxSharedTokens,
 * oldest first; the original request is the task itself and is never trimmed.
 */
export function buildStepMessages(
  state: RunState,
  stepId: string,
  iteration: number,
  options: StepMessagesOptions = {},
): StepMessages {
  const step = state.flow.byId.get(stepId) as CompiledStep;
  const policy = state.flow.policy;
  const counter = options.tokenCounter ?? defaultTokenCounter;
  const refs = step.prompt.kind === "template" ? step.prompt.references : null;
  const segments = new Map<string, ContextSegment>();
  const sources = new Map<string, StepRecord>();
  const share = (record: StepRecord | null | undefined): void => {
    if (!record || !policy.shareStepOutputs) return;
    segments.set(recordKey(record), {
      key: recordKey(record),
      age: recordAge(state, record),
      text: record.output ?? "",
    });
    sources.set(recordKey(record), record);
  };

  // The step's input, attached when a template prompt does not place earlier outputs itself.
  const autoInput =
    refs !== null && !refs.stepOutputs && policy.shareStepOutputs ? inputRecords(state, step, iteration) : [];
  autoInput.forEach(share);
  if (refs) {
    for (const part of (step.prompt as { template: ParsedTemplate }).template.parts) {
      if (part.kind !== "placeholder") continue;
      const [root, id] = part.path;
      if (root === "previous") share(previousSource(state, stepId, iteration));
      if (root === "all") upstreamOutputs(state, stepId, iteration).forEach(share);
      if (root === "draft") share(currentDraftRecord(state));
      if (root === "steps" && id !== undefined && part.path[2] === "output") share(latestSuccess(state, id));
    }
  }

  const history = options.history ?? [];
  const historyShared = policy.shareConversationHistory && (options.historyAllowed ?? false) && history.length > 0;
  const sharedHistory = historyShared ? history.filter((m) => m.role !== "system") : [];
  sharedHistory.forEach((message, i) => {
    segments.set(`history:${i}`, { key: `history:${i}`, age: -1_000_000 + i, text: message.content });
  });

  const fit = fitToTokenBudget([...segments.values()], policy.maxSharedTokens, counter);
  const kept = (record: StepRecord | null | undefined): string =>
    record ? (fit.kept.get(recordKey(record)) ?? "") : "";
  const keptLabelled = (records: StepRecord[]): string =>
    records
      .filter((r) => kept(r) !== "")
      .map((r) => labelOutput(state, { ...r, output: kept(r) }))
      .join("\n\n");
  const keptHistory = sharedHistory
    .map((message, i) => ({ role: message.role, content: fit.kept.get(`history:${i}`) ?? "" }))
    .filter((m) => m.content !== "");
  const preservedSystem =
    historyShared && policy.preserveSystemPrompts ? history.filter((m) => m.role === "system") : [];

  const resolve = placeholderResolver(state, stepId, iteration, {
    output: kept,
    labelled: keptLabelled,
    history: keptHistory.map((m) => `${m.role}: ${m.content}`).join("\n"),
  });

  // Stable first, in a fixed order (system prompt, history, original request), the step's own part last:
  // consecutive steps then share a prompt prefix that vendors' prompt caches serve.
  const parts: string[] = [];
  // A first step's {{ previous }} already is the original request: do not send it twice.
  const previousIsOriginal = step.inputFrom === "previous" && previousSource(state, stepId, iteration) === null;
  const placesOriginal = refs !== null && (refs.original || (refs.usesPrevious && previousIsOriginal));
  if (refs && !placesOriginal && policy.includeOriginalPrompt) parts.push(`Original request:\n${state.originalPrompt}`);
  const stableParts = parts.length;
  const attached = autoInput.length === 1 ? kept(autoInput[0]) : keptLabelled(autoInput);
  if (attached)
    parts.push(
      `${autoInput.length === 1 ? `Output of step "${(autoInput[0] as StepRecord).stepId}"` : "Earlier outputs"}:\n${attached}`,
    );
  parts.push(renderPrompt(step, state, resolve, options));

  const messages: ChatMessage[] = [];
  const system = step.systemPrompt ? renderTemplate(step.systemPrompt, resolve) : "";
  if (system) messages.push({ role: "system", content: system });
  for (const m of preservedSystem) messages.push({ role: "system", content: m.content });
  if (!refs?.history) messages.push(...keptHistory);
  const content = parts.join("\n\n");
  // A step whose prompt is the original request sends nothing of its own.
  const stablePrefixLength =
    step.prompt.kind === "original" ? content.length : parts.slice(0, stableParts).join("\n\n").length;
  messages.push({ role: "user", content, stablePrefixLength });

  return {
    messages,
    sharedTokens: fit.tokens,
    droppedSegments: fit.droppedSegments,
    truncatedSegments: fit.truncatedSegments,
    sources: [...sources.values()]
      .filter((r) => kept(r) !== "")
      .map((r) => ({
        stepId: r.stepId,
        iteration: r.iteration,
        provider: r.provider ?? state.flow.byId.get(r.stepId)?.targets[0]?.provider ?? "",
      })),
    includesHistory: keptHistory.length > 0 || preservedSystem.length > 0,
  };
}

function renderPrompt(
  step: CompiledStep,
  state: RunState,
  resolve: (path: string[]) => string,
  options: StepMessagesOptions,
): string {
  switch (step.prompt.kind) {
    case "original":
      return state.originalPrompt;
    case "template":
      return renderTemplate(step.prompt.template, resolve);
    case "hook":
      if (options.hookPrompt === undefined)
        throw new Error(`step ${step.id}: prompt hook "${step.prompt.name}" was not run`);
      return options.hookPrompt;
  }
}

/** The records a step's `inputFrom` points at (none for "original": that is the request itself). */
function inputRecords(state: RunState, step: CompiledStep, iteration: number): StepRecord[] {
  switch (step.inputFrom) {
    case "original":
      return [];
    case "previous": {
      const source = previousSource(state, step.id, iteration);
      return source ? [source] : [];
    }
    case "all":
      return upstreamOutputs(state, step.id, iteration);
    default: {
      const record = latestSuccess(state, step.inputFrom);
      return record ? [record] : [];
    }
  }
}

/** How a request shows step outputs and history: as the token budget kept them (or whole). */
export interface PlaceholderView {
  output(record: StepRecord | null | undefined): string;
  labelled(records: StepRecord[]): string;
  history: string;
}

/** The text of each `{{ placeholder }}` of a step instance's templates (paths were validated at compile time). */
export function placeholderResolver(
  state: RunState,
  stepId: string,
  iteration: number,
  view: PlaceholderView,
): (path: string[]) => string {
  return (path) => {
    const [root, key, field] = path;
    switch (root) {
      case "original":
        return state.originalPrompt;
      case "previous": {
        const source = previousSource(state, stepId, iteration);
        return source ? view.output(source) : state.originalPrompt;
      }
      case "all":
        return view.labelled(upstreamOutputs(state, stepId, iteration));
      case "draft":
        return view.output(currentDraftRecord(state));
      case "history":
        return view.history;
      case "iteration":
        return String(iteration);
      case "metadata":
        return formatMetadata(
          path
            .slice(1)
            .reduce<unknown>(
              (value, k) => (isRecord(value) && Object.hasOwn(value, k) ? value[k] : undefined),
              state.metadata,
            ),
        );
      case "steps": {
        if (field === "status")
          return (
            getRecord(state, key as string, Math.max(latestIteration(state, key as string), 0))?.status ?? "pending"
          );
        return view.output(latestSuccess(state, key as string));
      }
      default:
        return "";
    }
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function formatMetadata(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}
