import { SseParser, type SseMessage } from "./sse-parser.js";

const parseAll = (chunks: string[], onComment?: (c: string) => void): SseMessage[] => {
  const parser = new SseParser(onComment);
  return chunks.flatMap((chunk) => parser.push(chunk));
};

const STREAM =
  'id: 1\nevent: flow_start\ndata: {"id":1}\n\n: heartbeat\n\nid: 2\nevent: step_start\ndata: {"id":2}\n\n';

describe("SseParser", () => {
  it("parses the API's frames: id, event type, data", () => {
    expect(parseAll([STREAM])).toEqual([
      { id: "1", event: "flow_start", data: '{"id":1}' },
      { id: "2", event: "step_start", data: '{"id":2}' },
    ]);
  });

  it("gives the same events however the text is split into chunks", () => {
    const expected = parseAll([STREAM]);
    for (let size = 1; size <= 7; size += 1) {
      const chunks = STREAM.match(new RegExp(`[\\s\\S]{1,${size}}`, "g")) ?? [];
      expect(parseAll(chunks)).toEqual(expected);
    }
  });

  it("accepts CRLF and CR line ends, also with a CRLF split between chunks", () => {
    const crlf = STREAM.replace(/\n/g, "\r\n");
    expect(parseAll([crlf])).toEqual(parseAll([STREAM]));
    expect(parseAll([STREAM.replace(/\n/g, "\r")])).toEqual(parseAll([STREAM]));
    const at = crlf.indexOf("\r\n") + 1;
    expect(parseAll([crlf.slice(0, at), crlf.slice(at)])).toEqual(parseAll([STREAM]));
  });

  it("joins multi-line data, strips one leading space, defaults the type to message", () => {
    expect(parseAll(["data:  two spaces\ndata:x\ndata\n\n"])).toEqual([
      { id: "", event: "message", data: " two spaces\nx\n" },
    ]);
  });

  it("reports comments (heartbeats), and dispatches nothing for them or for events without data", () => {
    const comments: string[] = [];
    expect(parseAll([": heartbeat\n\nevent: ping\n\nid: 9\n\n"], (c) => comments.push(c))).toEqual([]);
    expect(comments).toEqual(["heartbeat"]);
  });

  it("keeps the last id for later events, ignores ids with NUL, reads retry", () => {
    expect(
      parseAll(["id: 5\ndata: a\n\ndata: b\n\nid: x\0y\nretry: 1500\ndata: c\n\nretry: soon\ndata: d\n\n"]),
    ).toEqual([
      { id: "5", event: "message", data: "a" },
      { id: "5", event: "message", data: "b" },
      { id: "5", event: "message", data: "c", retry: 1500 },
      { id: "5", event: "message", data: "d" },
    ]);
  });

  it("drops a leading byte-order mark and holds an unfinished event until its blank line", () => {
    const parser = new SseParser();
    expect(parser.push("\uFEFFdata: a\n")).toEqual([]);
    expect(parser.push("\n")).toEqual([{ id: "", event: "message", data: "a" }]);
  });
});
