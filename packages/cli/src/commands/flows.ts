import type { Flow, FlowStatus } from "@ensemble/sdk";
import type { CliContext } from "../cli-context.js";
import { EXIT, exitCodeForStatus } from "../exit-codes.js";

const table = (rows: string[][]): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
};

/** `ensemble flows ls`: the caller's flows, newest first, in one thread or in every thread they may read. */
export async function listFlowsCommand(ctx: CliContext, options: { thread?: string; limit: number }): Promise<number> {
  const threads = options.thread
    ? [options.thread]
    : (await ctx.client.listThreads({ limit: 50 })).items.map((t) => t.id);
  const flows: Flow[] = [];
  for (const threadId of threads) flows.push(...(await ctx.client.listFlows(threadId, { limit: options.limit })).items);
  flows.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const shown = flows.slice(0, options.limit);
  if (ctx.json) {
    ctx.out.write(`${JSON.stringify(shown)}\n`);
    return EXIT.ok;
  }
  if (!shown.length) {
    ctx.err.write("no flows yet: ensemble run <flow.yaml | template>\n");
    return EXIT.ok;
  }
  ctx.out.write(
    table([
      ["FLOW", "NAME", "TYPE", "STATUS", "RUN", "COST", "TOKENS", "CREATED"],
      ...shown.map((f) => [
        f.id,
        f.name,
        f.flowType,
        f.status,
        String(f.run),
        `$${f.totalCost.toFixed(6)}`,
        String(f.totalTokens),
        f.createdAt,
      ]),
    ]),
  );
  return EXIT.ok;
}

/** `ensemble status <flow>`: where the run is; the exit code is the run's once it has ended. */
export async function statusCommand(ctx: CliContext, flowId: string): Promise<number> {
  const status: FlowStatus = await ctx.client.getFlowStatus(flowId);
  if (ctx.json) ctx.out.write(`${JSON.stringify(status)}\n`);
  else
    ctx.out.write(
      table([
        ["status", status.status],
        [
          "progress",
          `${status.progress}% (${status.completedSteps}/${status.totalSteps} steps, ${status.failedSteps} failed)`,
        ],
        ["cost", `$${status.totalCost.toFixed(6)}`],
        ["tokens", String(status.totalTokens)],
        ["started", status.startedAt ?? "—"],
        ["ended", status.completedAt ?? "—"],
      ]),
    );
  return ["completed", "failed", "cancelled", "timed_out"].includes(status.status)
    ? exitCodeForStatus(status.status)
    : EXIT.ok;
}

/** `ensemble cancel <flow>`. */
export async function cancelCommand(ctx: CliContext, flowId: string): Promise<number> {
  await ctx.client.cancelFlow(flowId);
  if (ctx.json) ctx.out.write(`${JSON.stringify({ flowId, cancelRequested: true })}\n`);
  else ctx.err.write(`cancel requested for ${flowId}; running calls stop within a second\n`);
  return EXIT.ok;
}

/** `ensemble templates`: the templates the server builds, with their parameters. */
export async function templatesCommand(ctx: CliContext): Promise<number> {
  const templates = await ctx.client.listTemplates();
  if (ctx.json) {
    ctx.out.write(`${JSON.stringify(templates)}\n`);
    return EXIT.ok;
  }
  ctx.out.write(
    table([
      ["TEMPLATE", "TYPE", "PARAMETERS (--param name=value)", "DESCRIPTION"],
      ...templates.map((t) => [t.alias, t.flowType, t.parameters.map((p) => p.name).join(","), t.description]),
    ]),
  );
  return EXIT.ok;
}
