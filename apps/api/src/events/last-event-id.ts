import { ValidationError } from "@ensemble/core";

/**
 * Where to resume: the `Last-Event-ID` header (what EventSource sends when it
 * reconnects, so it wins) or the `lastEventId` query parameter; 0 = from the start.
 */
export function parseLastEventId(header: string | string[] | undefined, query: unknown): number {
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (fromHeader !== undefined && fromHeader.trim() !== "") return parseId(fromHeader, "Last-Event-ID");
  if (typeof query === "string" && query.trim() !== "") return parseId(query, "lastEventId");
  if (query !== undefined && typeof query !== "string") throw invalid("lastEventId");
  return 0;
}

function parseId(raw: string, field: string): number {
  const text = raw.trim();
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id)) throw invalid(field);
  return id;
}

function invalid(field: string): ValidationError {
  return new ValidationError([{ path: field, message: "must be a non-negative integer event id" }]);
}
