import { z } from "zod";
import { issuesFromZod } from "./zod-issues.js";

describe("issuesFromZod", () => {
  const schema = z.strictObject({ name: z.string(), steps: z.array(z.strictObject({ id: z.string() })) });

  it("names each bad field by its path under the prefix", () => {
    const result = schema.safeParse({ name: 1, steps: [{ id: 2 }] });
    expect(issuesFromZod(result.error!, ["definition"]).map((i) => i.path)).toEqual([
      "definition.name",
      "definition.steps[0].id",
    ]);
  });

  it("gives every unknown key its own path", () => {
    const result = schema.safeParse({ name: "n", steps: [{ id: "a", bogus: 1, __proto__x: 2 }], extra: true });
    expect(issuesFromZod(result.error!)).toEqual([
      { path: "steps[0].bogus", message: "is not a known field" },
      { path: "steps[0].__proto__x", message: "is not a known field" },
      { path: "extra", message: "is not a known field" },
    ]);
  });
});
