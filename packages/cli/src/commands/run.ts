import { createInterface } from "node:readline";
import { basename } from "node:path";
import { FlowExecutionError, type FlowExecutionResult, type RunPriority } from "@ensemble/sdk";
import type { CliContext } from "../cli-context.js";
import { EXIT, exitCodeForStatus } from "../exit-codes.js";
import { loadDefinition } from "../flow-source.js";
import { RunProgress } from "../run-progress.js";

export interface RunOptions {
  source: string;
  input?: string;
  params: string[];
  thread?: string;
  priority?: RunPriority;
  /** Ctrl-C leaves the run going instead of asking whether to cancel it. */
  detach: boolean;
}

/**
 * `ensemble run`: creates the flow (in a new thread unless --thread), executes it and shows
 * it move; exits with the run's outcome. Ctrl-C asks whether to cancel the run; any answer
 * but yes (or --detach) leaves it running and says how to follow it.
 */
export async function runCommand(ctx: CliContext, options: RunOptions): Promise<number> {
  const { client } = ctx;
  const definition = await loadDefinition(client, options.source, options.params);
  const threadId = options.thread ?? (await client.createThread(`ensemble run ${basename(options.source)}`)).id;
  const flow = await client.createFlow(threadId, definition);
  ctx.err.write(`flow ${flow.id} in thread ${threadId}\n`);
  const progress = ctx.json ? null : new RunProgress(ctx.err, Boolean(ctx.err.isTTY));

  const detached = new AbortController();
  let asking = false;
  const onInterrupt = (): void => {
    if (options.detach || asking) return detached.abort();
    asking = true;
    progress?.pause();
    void ask("\nCancel the run? [y/N] ", ctx.err).then(async (answer) => {
      asking = false;
      progress?.resume();
      if (!/^y(es)?$/i.test(answer.trim())) return detached.abort();
      ctx.err.write("cancelling the run…\n");
      await client.cancelFlow(flow.id);
    });
  };
  process.on("SIGINT", onInterrupt);
  try {
    const result = await client.executeFlow(flow.id, {
      ...(options.input !== undefined ? { input: options.input } : {}),
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      onUpdate: (event) => progress?.apply(event),
      signal: detached.signal,
    });
    report(ctx, result);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof FlowExecutionError) {
      report(ctx, err.result);
      return exitCodeForStatus(err.result.status);
    }
    if (detached.signal.aborted) {
      ctx.err.write(`detached: the run goes on. Follow it with: ensemble tail ${flow.id}\n`);
      if (ctx.json) ctx.out.write(`${JSON.stringify({ flowId: flow.id, status: "detached" })}\n`);
      return EXIT.ok;
    }
    throw err;
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}

function report(ctx: CliContext, result: FlowExecutionResult): void {
  if (ctx.json) {
    ctx.out.write(`${JSON.stringify(result)}\n`);
    return;
  }
  if (result.finalOutput !== null) ctx.out.write(`${result.finalOutput}\n`);
  const error = result.error ? ` — ${result.error.code}: ${result.error.message}` : "";
  ctx.err.write(
    `\n${result.status}: $${result.totalCost.toFixed(6)}, ${result.totalTokens} tokens, ${result.steps.length} step results${error}\n`,
  );
}

/** One line from stdin; "" when stdin ends first (no one is there to answer). */
function ask(question: string, err: NodeJS.WritableStream): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: err, terminal: false });
    let answered = false;
    err.write(question);
    rl.once("line", (line) => {
      answered = true;
      rl.close();
      resolve(line);
    });
    rl.once("close", () => {
      if (!answered) resolve("");
    });
  });
}
