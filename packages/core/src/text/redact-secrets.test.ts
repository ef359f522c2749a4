import { REDACTED, redactSecrets, registerSecretValues } from "./redact-secrets.js";

describe("redactSecrets with configured values", () => {
  const ENDPOINT_KEY = "local-endpoint-key-0f3a9c"; // no vendor pattern matches it
  const PASSWORD = 'p@ss "word"/42';
  beforeAll(() => registerSecretValues([ENDPOINT_KEY, PASSWORD, undefined, "short"]));

  it("masks a configured value wherever it appears, however often", () => {
    expect(redactSecrets(`invalid key ${ENDPOINT_KEY}; again: ${ENDPOINT_KEY}.`)).toBe(
      `invalid key ${REDACTED}; again: ${REDACTED}.`,
    );
  });

  it("masks the JSON-escaped and URL-encoded forms of a value, as a log line or a URL quotes it", () => {
    expect(redactSecrets(JSON.stringify({ msg: `login with ${PASSWORD}` }))).toBe(
      JSON.stringify({ msg: `login with ${REDACTED}` }),
    );
    expect(redactSecrets(`postgres://app:${encodeURIComponent(PASSWORD)}@db/x`)).toBe(
      `postgres://app:${REDACTED}@db/x`,
    );
  });

  it("leaves values too short to be credentials alone", () => {
    expect(redactSecrets("a short story")).toBe("a short story");
  });
});
