import { isTerminalFlowEvent } from "@ensemble/sdk";
import type { CliContext } from "../cli-context.js";
import { EXIT, exitCodeForStatus } from "../exit-codes.js";

/**
 * `ensemble tail <flow>`: the flow's events, history then live, until the flow is over.
 * Each line starts with the event id: `--after <id>` resumes after it.
 */
export async function tailCommand(ctx: CliContext, flowId: string, after: number): Promise<number> {
  const detached = new AbortController();
  const stop = (): void => detached.abort();
  process.on("SIGINT", stop);
  let ended: string | null = null;
  try {
    for await (const event of ctx.client.streamEvents(flowId, { lastEventId: after, signal: detached.signal })) {
      if (ctx.json) ctx.out.write(`${JSON.stringify(event)}\n`);
      else {
        const data = JSON.stringify(event.data);
        ctx.out.write(
          `${event.id}\t${event.timestamp}\t${event.type}${event.stepId ? `\t${event.stepId}` : ""}\t${data.length > 200 ? `${data.slice(0, 200)}…` : data}\n`,
        );
      }
      if (isTerminalFlowEvent(event)) ended = event.data.status;
    }
  } catch (err) {
    if (!detached.signal.aborted) throw err;
  } finally {
    process.off("SIGINT", stop);
  }
  return ended ? exitCodeForStatus(ended) : EXIT.ok;
}
