// Shared by the examples: a client from ENSEMBLE_URL / ENSEMBLE_API_KEY, and a main() that
// prints an API error the way a user wants to read it (code, message, the fields it names).
import { EnsembleApiError, EnsembleClient, EnsembleConnectionError, FlowExecutionError } from "@ensemble/sdk";

export function clientFromEnv(): EnsembleClient {
  const baseUrl = process.env.ENSEMBLE_URL ?? "http://localhost:3000";
  const apiKey = process.env.ENSEMBLE_API_KEY;
  if (!apiKey) {
    console.error(
      "Set ENSEMBLE_API_KEY to an API key (in development the API prints one at start) and ENSEMBLE_URL to the API (default http://localhost:3000).",
    );
    process.exit(2);
  }
  return new EnsembleClient({ baseUrl, apiKey });
}

/** Runs an example; exits 1 with a readable message if it throws. */
export function main(run: () => Promise<void>): void {
  run().then(
    () => process.exit(0),
    (error: unknown) => {
      if (error instanceof EnsembleApiError) {
        console.error(`API error ${error.status} ${error.code}: ${error.message}`);
        for (const detail of error.details)
          console.error(`  ${detail.path ?? ""}: ${detail.message ?? JSON.stringify(detail)}`);
      } else if (error instanceof FlowExecutionError) {
        console.error(error.message);
      } else if (error instanceof EnsembleConnectionError) {
        console.error(`${error.message} — is the API running? (ENSEMBLE_URL)`);
      } else {
        console.error(error);
      }
      process.exit(1);
    },
  );
}

/** Short, one-line text for an event's data (token deltas as text, the rest as JSON). */
export function describeData(data: unknown): string {
  if (data && typeof data === "object" && "delta" in data && typeof data.delta === "string")
    return JSON.stringify(data.delta);
  const text = JSON.stringify(data) ?? "";
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
