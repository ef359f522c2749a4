#!/usr/bin/env node
import { parseArgs } from "node:util";
import { EnsembleApiError, EnsembleConnectionError, isRunPriority, type RunPriority } from "@ensemble/sdk";
import { connect, type CliContext } from "./cli-context.js";
import { cancelCommand, listFlowsCommand, statusCommand, templatesCommand } from "./commands/flows.js";
import { runCommand } from "./commands/run.js";
import { tailCommand } from "./commands/tail.js";
import { EXIT, UsageError } from "./exit-codes.js";

const USAGE = `usage: ensemble <command> [options]

  run <flow.yaml | flow.json | template>   create the flow, run it and show it move
      --input <text>      the original prompt ({{ original }})
      --param <k=v>       a template parameter (repeatable; JSON values allowed)
      --thread <id>       run in this thread (default: a new one)
      --priority <p>      high, normal (default) or low: the run's place among queued steps
      --detach            Ctrl-C leaves the run going (default: asks whether to cancel)
  flows ls [--thread <id>] [--limit <n>]   your flows, newest first
  status <flow>                            where a run is
  tail <flow> [--after <event id>]         a flow's events, history then live
  cancel <flow>                            cancel a running flow
  templates                                the flow templates and their parameters

  --url <url>   the API (ENSEMBLE_URL, default http://localhost:3000)
  --key <key>   an API key (ENSEMBLE_API_KEY)
  --json        machine-readable output on stdout

exit codes: 0 done (run completed), 1 run failed, 2 usage, 3 run cancelled, 4 run timed out, 5 API error
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      input: { type: "string" },
      param: { type: "string", multiple: true, default: [] },
      thread: { type: "string" },
      priority: { type: "string" },
      detach: { type: "boolean", default: false },
      limit: { type: "string", default: "20" },
      after: { type: "string", default: "0" },
      url: { type: "string" },
      key: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const ctx: CliContext = {
    client: connect({ url: values.url, key: values.key }, process.env),
    json: values.json,
    out: process.stdout,
    err: process.stderr,
  };
  const one = (what: string): string => {
    if (rest.length !== 1) throw new UsageError(`${command} takes one ${what}`);
    return rest[0]!;
  };
  const count = (flag: string, value: string): number => {
    if (!/^\d+$/.test(value)) throw new UsageError(`--${flag} must be a whole number, got "${value}"`);
    return Number(value);
  };
  switch (command) {
    case "run":
      return runCommand(ctx, {
        source: one("flow file or template name"),
        ...(values.input !== undefined ? { input: values.input } : {}),
        params: values.param,
        ...(values.thread !== undefined ? { thread: values.thread } : {}),
        ...(values.priority !== undefined ? { priority: priorityOf(values.priority) } : {}),
        detach: values.detach,
      });
    case "flows":
      if (rest[0] !== "ls") throw new UsageError("flows has one subcommand: flows ls");
      return listFlowsCommand(ctx, {
        ...(values.thread !== undefined ? { thread: values.thread } : {}),
        limit: count("limit", values.limit),
      });
    case "status":
      return statusCommand(ctx, one("flow id"));
    case "tail":
      return tailCommand(ctx, one("flow id"), count("after", values.after));
    case "cancel":
      return cancelCommand(ctx, one("flow id"));
    case "templates":
      return templatesCommand(ctx);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function priorityOf(value: string): RunPriority {
  if (!isRunPriority(value)) throw new UsageError(`--priority must be high, normal or low, got "${value}"`);
  return value;
}

function explain(err: unknown): number {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    process.stderr.write(`ensemble: ${(err as Error).message}\n(ensemble --help lists the commands)\n`);
    return EXIT.usage;
  }
  if (err instanceof EnsembleApiError) {
    const fields = err.details
      .map((d) => (d as { path?: string; message?: string }).path)
      .filter(Boolean)
      .join(", ");
    process.stderr.write(`ensemble: ${err.code}: ${err.message}${fields ? ` (${fields})` : ""}\n`);
    if (err.status === 401) process.stderr.write("check ENSEMBLE_API_KEY / --key\n");
    return EXIT.apiError;
  }
  if (err instanceof EnsembleConnectionError) {
    process.stderr.write(`ensemble: ${err.message}\ncheck ENSEMBLE_URL / --url, and that the API is running\n`);
    return EXIT.apiError;
  }
  process.stderr.write(`ensemble: ${(err as Error).message ?? String(err)}\n`);
  return EXIT.apiError;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => process.exit(explain(err)),
);
