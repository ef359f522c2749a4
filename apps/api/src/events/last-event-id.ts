import { ValidationError } from "@ensemble/core";

/**
 * The largest event id a flow can have: the archive stores ids in a Postgres `integer`
 * (flow_events.seq). A larger resume id names no event, and passed on to the archive
 * query it would be a database error (a 500) rather than the client's 400.
 */
export const MAX_EVENT_ID = 2_147_483_647;

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
  if (!/^\d+$/.test(text) || id > MAX_EVENT_ID) throw invalid(field);
  return id;
}

function invalid(field: string): ValidationError {
  return new ValidationError([{ path: field, message: `must be an integer event id from 0 to ${MAX_EVENT_ID}` }]);
}
