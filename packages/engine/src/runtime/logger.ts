import { redactSecrets } from "@ensemble/core";
import { pino, stdSerializers, type Logger } from "pino";

/** Fields that may hold secrets anywhere in a log object; pino replaces them. */
const REDACT_PATHS = [
  "apiKey",
  "key",
  "token",
  "authorization",
  "password",
  "*.apiKey",
  "*.key",
  "*.token",
  "*.authorization",
  "*.password",
  "headers.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "*.headers.authorization",
  "*.headers['x-api-key']",
  "*.headers['x-goog-api-key']",
];

/**
 * Error fields that quote the data a statement carried: Postgres' `where` (for JSON, the
 * document up to the bad token), `detail` (`Key (id)=(…)`), `hint`, `internal_query`;
 * postgres.js' `query`, `parameters`, `args`, `types` (enumerable only with its `debug`).
 * In a batch they would be other tenants' prompts and outputs.
 */
const DATA_BEARING_ERROR_FIELDS = ["where", "detail", "hint", "internal_query", "query", "parameters", "args", "types"];

/** pino's error serializer, without the fields that quote data, in nested errors too. */
function serializeError(err: unknown): unknown {
  const serialized: unknown = stdSerializers.err(err as Error);
  return serialized === err ? err : withoutDataFields(serialized);
}

function withoutDataFields(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(withoutDataFields);
  const fields = value as Record<string, unknown>;
  for (const field of DATA_BEARING_ERROR_FIELDS) delete fields[field];
  // Nested errors (aggregateErrors, an error kept under another name) were serialized alike.
  for (const [key, nested] of Object.entries(fields))
    if (nested !== null && typeof nested === "object") fields[key] = withoutDataFields(nested);
  return fields;
}

/**
 * JSON lines to stdout (conventions: object first, message second). Secrets are redacted
 * by field name and, in each whole line, by value (redactSecrets: the configured secrets
 * and key-shaped strings), since an error message may quote a key.
 */
export function createLogger(options: { level: string; name: string }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    serializers: { err: serializeError, error: serializeError },
    hooks: { streamWrite: redactSecrets },
    base: { pid: process.pid, role: options.name },
  });
}
