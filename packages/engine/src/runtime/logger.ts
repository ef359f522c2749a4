import { pino, type Logger } from "pino";

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

/** JSON lines to stdout, secrets redacted (conventions: object first, message second). */
export function createLogger(options: { level: string; name: string }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { pid: process.pid, role: options.name },
  });
}
