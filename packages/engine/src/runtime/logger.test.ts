import { registerSecretValues } from "@ensemble/core";
import { createLogger } from "./logger.js";

/** The lines a logger writes to stdout, captured. */
function captureStdout(run: () => void): string {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array) => {
    lines.push(chunk.toString());
    return true;
  };
  try {
    run();
  } finally {
    process.stdout.write = write;
  }
  return lines.join("");
}

describe("createLogger", () => {
  it("never prints the data a database error quotes: Postgres' where and detail, postgres.js' query and parameters", () => {
    // Shaped as postgres.js throws it: the server's fields as own properties.
    const err = Object.assign(new Error("invalid input syntax for type json"), {
      name: "PostgresError",
      code: "22P02",
      where: 'JSON data, line 1: [{"data": "tenant-b-output',
      detail: "Token tenant-b-detail is invalid.",
    });
    Object.defineProperties(err, {
      query: { value: "insert …", enumerable: true },
      parameters: { value: ["tenant-b-parameter"], enumerable: true },
    });
    const wrapper = new Error("archive failed", { cause: err });
    const out = captureStdout(() => {
      const logger = createLogger({ level: "info", name: "test" });
      logger.error({ err }, "flow job failed");
      logger.error({ err: wrapper, error: err }, "wrapped");
      logger.flush();
    });
    expect(out).toContain("invalid input syntax for type json");
    expect(out).toContain("22P02");
    expect(out).not.toMatch(/tenant-b/);
  });

  it("masks a configured secret value anywhere in a line, not only in known fields", () => {
    registerSecretValues(["endpoint-secret-value-9"]);
    const out = captureStdout(() => {
      const logger = createLogger({ level: "info", name: "test" });
      logger.warn(
        { err: new Error("401: bad key endpoint-secret-value-9"), note: "endpoint-secret-value-9" },
        "call failed for endpoint-secret-value-9",
      );
      logger.flush();
    });
    expect(out).toContain("[REDACTED]");
    expect(out).not.toContain("endpoint-secret-value-9");
  });
});
