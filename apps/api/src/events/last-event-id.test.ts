import { ValidationError } from "@ensemble/core";
import { MAX_EVENT_ID, parseLastEventId } from "./last-event-id.js";

describe("parseLastEventId", () => {
  it("reads the header first (EventSource's reconnect), then the query, else 0", () => {
    expect(parseLastEventId("7", "3")).toBe(7);
    expect(parseLastEventId(undefined, "3")).toBe(3);
    expect(parseLastEventId(" 12 ", undefined)).toBe(12);
    expect(parseLastEventId(undefined, undefined)).toBe(0);
    expect(parseLastEventId("", "")).toBe(0);
    expect(parseLastEventId(String(MAX_EVENT_ID), undefined)).toBe(MAX_EVENT_ID);
  });

  it.each([
    ["abc", undefined, "Last-Event-ID"],
    ["-1", undefined, "Last-Event-ID"],
    ["1.5", undefined, "Last-Event-ID"],
    ["99999999999999999999", undefined, "Last-Event-ID"],
    ["9007199254740991", undefined, "Last-Event-ID"],
    ["2147483648", undefined, "Last-Event-ID"],
    ["1e3", undefined, "Last-Event-ID"],
    [undefined, "9007199254740991", "lastEventId"],
    [undefined, "x", "lastEventId"],
    [undefined, ["1", "2"], "lastEventId"],
  ])("rejects %p / %p naming %s", (header, query, field) => {
    let error: unknown;
    try {
      parseLastEventId(header, query);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([
      { path: field, message: `must be an integer event id from 0 to ${MAX_EVENT_ID}` },
    ]);
  });
});
