import { EnsembleClient } from "@ensemble/sdk";
import { UsageError } from "./exit-codes.js";

export interface CliContext {
  client: EnsembleClient;
  json: boolean;
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream & { isTTY?: boolean };
}

/** The API's address and key: flags first, then ENSEMBLE_URL / ENSEMBLE_API_KEY. */
export function connect(flags: { url?: string; key?: string }, env: NodeJS.ProcessEnv): EnsembleClient {
  const baseUrl = flags.url ?? env.ENSEMBLE_URL ?? "http://localhost:3000";
  const apiKey = flags.key ?? env.ENSEMBLE_API_KEY;
  if (!apiKey) throw new UsageError("no API key: set ENSEMBLE_API_KEY or pass --key");
  try {
    new URL(baseUrl);
  } catch {
    throw new UsageError(`ENSEMBLE_URL / --url is not a URL: ${baseUrl}`);
  }
  return new EnsembleClient({ baseUrl, apiKey });
}
