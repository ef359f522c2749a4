import { canonicalJson, requestFingerprint } from "./request-fingerprint.js";

describe("request fingerprints", () => {
  it("ignore key order and undefined fields at every level", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"y":2,"z":1}]},"b":1}',
    );
    const one = requestFingerprint({
      path: "/v1/flows/f/execute",
      query: {},
      body: { input: "x", metadata: { a: 1, b: 2 } },
    });
    const two = requestFingerprint({
      path: "/v1/flows/f/execute",
      query: {},
      body: { metadata: { b: 2, a: 1 }, input: "x" },
    });
    expect(one).toBe(two);
  });

  it("treat a missing body as an empty one", () => {
    expect(requestFingerprint({ path: "/p", query: undefined, body: undefined })).toBe(
      requestFingerprint({ path: "/p", query: {}, body: {} }),
    );
  });

  it("differ when the path, the query or any value differs", () => {
    const base = { path: "/v1/flows/f/execute", query: {}, body: { input: "x" } };
    const fingerprints = new Set([
      requestFingerprint(base),
      requestFingerprint({ ...base, path: "/v1/flows/g/execute" }),
      requestFingerprint({ ...base, query: { wait: "true" } }),
      requestFingerprint({ ...base, body: { input: "y" } }),
      requestFingerprint({ ...base, body: { input: "x", saveMessages: false } }),
      requestFingerprint({ ...base, body: { input: ["x"] } }),
    ]);
    expect(fingerprints.size).toBe(6);
  });
});
