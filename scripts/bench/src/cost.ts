// `pnpm bench:cost`: what prompt caching saves on a flow whose steps share a long prefix. A critique
// flow and a 5-model consensus flow run over a 20,000-token thread, step by step as the cluster runs
// them (the planner, the context builder, each vendor's adapter and official SDK, the price table),
// against the fake vendor servers: once with their simulated prompt caches on, once off.
// Needs neither Redis nor Postgres.
import {
  DEFAULT_PRICE_TABLE,
  compileFlowOrThrow,
  computeCost,
  buildStepMessages,
  createConsensusFlow,
  createCritiqueFlow,
  createRunState,
  defaultTokenCounter,
  planNextSteps,
  type ConversationMessage,
  type FlowDefinitionInput,
  type StepRecord,
  type TokenUsage,
} from "@ensemble/core";
import {
  createAnthropicAdapter,
  createGoogleAdapter,
  createOpenAIAdapter,
  type ProviderAdapter,
} from "@ensemble/providers";
import { startFakeVendors, type FakeVendors } from "@ensemble/providers/testing";

const THREAD_TOKENS = 20_000;
const REQUEST = "Summarise the decisions this thread reached and list the open questions, with owners.";

/** A thread of alternating turns, about THREAD_TOKENS tokens (by the context builder's tokenizer). */
function thread(): ConversationMessage[] {
  const messages: ConversationMessage[] = [];
  let tokens = 0;
  for (let turn = 0; tokens < THREAD_TOKENS; turn++) {
    const role = turn % 2 === 0 ? "user" : "assistant";
    const content =
      `Turn ${turn}: ` +
      `the ${["budget", "hiring plan", "launch date", "pricing", "vendor contract"][turn % 5]} was discussed again; ` +
      `figures ${turn * 17}, ${turn * 31} and ${turn * 7} were compared, and item ${turn} was assigned. `.repeat(12);
    tokens += defaultTokenCounter.count(content);
    messages.push({ role, content });
  }
  return messages;
}

/** The thread is shared whole with every step (within the context budget). */
function withHistory(definition: FlowDefinitionInput): FlowDefinitionInput {
  return {
    ...definition,
    contextPolicy: { shareConversationHistory: true, maxSharedTokens: THREAD_TOKENS * 2 },
  };
}

const FLOWS: { name: string; definition: FlowDefinitionInput }[] = [
  {
    name: "critique",
    definition: withHistory(createCritiqueFlow("anthropic", "claude-sonnet-4-5", "openai", "gpt-4.1")),
  },
  {
    name: "consensus",
    definition: withHistory(
      createConsensusFlow({
        proposers: [
          { provider: "openai", model: "gpt-4.1" },
          { provider: "anthropic", model: "claude-sonnet-4-5" },
          { provider: "google", model: "gemini-2.5-pro" },
          { provider: "openai", model: "gpt-4o-mini" },
          { provider: "anthropic", model: "claude-haiku-4-5" },
        ],
        moderator: { provider: "anthropic", model: "claude-sonnet-4-5" },
      }),
    ),
  },
];

interface Totals {
  calls: number;
  sent: number;
  read: number;
  written: number;
  plain: number;
  output: number;
  usd: number;
}

const zero = (): Totals => ({ calls: 0, sent: 0, read: 0, written: 0, plain: 0, output: 0, usd: 0 });

function add(totals: Totals, usage: TokenUsage, usd: number): void {
  const read = usage.cachedTokens ?? 0;
  const written = usage.cacheWriteTokens ?? 0;
  totals.calls += 1;
  totals.sent += usage.promptTokens;
  totals.read += read;
  totals.written += written;
  totals.plain += usage.promptTokens - read - written;
  totals.output += usage.completionTokens;
  totals.usd += usd;
}

function adapters(vendors: FakeVendors): Record<string, ProviderAdapter> {
  return {
    openai: createOpenAIAdapter({ apiKey: vendors.openai.apiKey, baseUrl: vendors.openai.url }),
    anthropic: createAnthropicAdapter({ apiKey: vendors.anthropic.apiKey, baseUrl: vendors.anthropic.url }),
    google: createGoogleAdapter({ apiKey: vendors.google.apiKey, baseUrl: vendors.google.url }),
  };
}

/** Runs one flow to its end as the scheduler would plan it, each wave of steps in parallel. */
async function runFlow(
  flowId: string,
  definition: FlowDefinitionInput,
  history: ConversationMessage[],
  providers: Record<string, ProviderAdapter>,
): Promise<Totals> {
  const flow = compileFlowOrThrow(definition);
  const inputs = { originalPrompt: REQUEST };
  const records: StepRecord[] = [];
  const totals = zero();
  for (;;) {
    const decision = planNextSteps(flow, records, inputs);
    if (decision.outcome) {
      if (decision.outcome.status !== "completed")
        throw new Error(`${flowId} failed: ${JSON.stringify(decision.outcome)}`);
      return totals;
    }
    if (decision.dispatch.length === 0) throw new Error(`${flowId}: nothing to run and no outcome`);
    const state = createRunState(flow, records, inputs);
    const done = await Promise.all(
      decision.dispatch.map(async ({ stepId, iteration }) => {
        const target = flow.byId.get(stepId)?.targets[0];
        const adapter = target ? providers[target.provider] : undefined;
        if (!target || !adapter) throw new Error(`${flowId}: no fake vendor for step ${stepId}`);
        const { messages } = buildStepMessages(state, stepId, iteration, { history, historyAllowed: true });
        const result = await adapter.call({
          model: target.model,
          messages,
          settings: {},
          signal: AbortSignal.timeout(30_000),
          trace: { flowId, stepId, iteration, attempt: 0 },
        });
        const { cost } = computeCost(result.usage, target.provider, target.model, DEFAULT_PRICE_TABLE);
        add(totals, result.usage, cost ?? 0);
        return { stepId, iteration, attempt: 0, status: "success", output: result.text } satisfies StepRecord;
      }),
    );
    records.push(...done);
  }
}

const usd = (value: number): string => `$${value.toFixed(4)}`;

function line(label: string, on: Totals, off: Totals): string {
  const saving = off.usd > 0 ? (1 - on.usd / off.usd) * 100 : 0;
  return (
    `${label.padEnd(10)} calls=${on.calls} sent=${on.sent} cached_read=${on.read} cache_written=${on.written} ` +
    `billed_full_price=${on.plain} output=${on.output} usd_cache_on=${usd(on.usd)} usd_cache_off=${usd(off.usd)} ` +
    `saving=${saving.toFixed(1)}%`
  );
}

async function measure(promptCache: boolean, history: ConversationMessage[]): Promise<Map<string, Totals>> {
  const vendors = await startFakeVendors({ chunkDelayMs: 0, promptCache });
  try {
    const providers = adapters(vendors);
    const results = new Map<string, Totals>();
    for (const { name, definition } of FLOWS) {
      // Each flow starts with empty caches: its numbers are its own.
      vendors.reset();
      results.set(name, await runFlow(`bench-cost-${name}`, definition, history, providers));
    }
    return results;
  } finally {
    await vendors.close();
  }
}

const history = thread();
const historyTokens = history.reduce((sum, m) => sum + defaultTokenCounter.count(m.content), 0);
console.log(`thread: ${history.length} messages, ${historyTokens} tokens; request: "${REQUEST}"`);
const on = await measure(true, history);
const off = await measure(false, history);
const all = { on: zero(), off: zero() };
for (const { name } of FLOWS) {
  const [flowOn, flowOff] = [on.get(name) ?? zero(), off.get(name) ?? zero()];
  console.log(line(name, flowOn, flowOff));
  for (const key of Object.keys(all.on) as (keyof Totals)[]) {
    all.on[key] += flowOn[key];
    all.off[key] += flowOff[key];
  }
}
console.log(line("total", all.on, all.off));
console.log(`cache_saving_pct=${(all.off.usd > 0 ? (1 - all.on.usd / all.off.usd) * 100 : 0).toFixed(1)}`);
