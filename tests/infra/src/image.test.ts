import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { BUILT_FILES, REPO_ROOT } from "./manifests.js";

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(): { op: string; args: string }[] {
  return readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const [op = "", ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(" ") };
    });
}

/** Docker engines cannot run here: these check the Dockerfile as text; tests/cluster runs its build. */
describe("the Dockerfile", () => {
  const all = instructions();
  const stages = all.reduce<{ op: string; args: string }[][]>((acc, i) => {
    if (i.op === "FROM") acc.push([]);
    acc.at(-1)?.push(i);
    return acc;
  }, []);
  const runtime = stages.at(-1)!;

  it("builds in one stage and runs from another, on Node 24", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0]?.args).toMatch(/^node:24[.-]/);
    expect(stages[0]?.some((i) => i.op === "RUN" && /pnpm build/.test(i.args))).toBe(true);
  });

  it("copies only the build output into the runtime stage: no sources, no pnpm, no dev dependencies", () => {
    const copies = runtime.filter((i) => i.op === "COPY" || i.op === "ADD");
    expect(copies.map((c) => c.args)).toEqual([expect.stringMatching(/^--from=\S+ \/src\/dist \/app$/)]);
    expect(runtime.filter((i) => i.op === "RUN")).toEqual([]);
  });

  it("runs as a non-root user with NODE_ENV=production", () => {
    const user = runtime.filter((i) => i.op === "USER").at(-1)?.args;
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user?.split(":")[0]);
    expect(runtime.some((i) => i.op === "ENV" && /\bNODE_ENV=production\b/.test(i.args))).toBe(true);
  });

  it("has a HEALTHCHECK, and a CMD that execs node on a built file so SIGTERM reaches it", () => {
    const healthcheck = runtime.find((i) => i.op === "HEALTHCHECK")?.args ?? "";
    expect(healthcheck).toMatch(/CMD \["node", "healthcheck\.mjs"\]$/);
    const cmd = JSON.parse(runtime.find((i) => i.op === "CMD")?.args ?? "null") as string[];
    expect(cmd[0]).toBe("node");
    expect(BUILT_FILES).toContain(cmd[1]);
  });
});

describe("infra/docker-compose.yml", () => {
  const compose = parse(readFileSync(join(REPO_ROOT, "infra/docker-compose.yml"), "utf8"), { merge: true }) as {
    services: Record<
      string,
      { build?: unknown; command?: string[]; image?: string; environment?: Record<string, string> }
    >;
  };
  const apps = Object.entries(compose.services).filter(([, s]) => s.build);

  it("runs every Ensemble service from the image's built files", () => {
    expect(apps.map(([name]) => name).sort()).toEqual(["api", "migrate", "scheduler", "worker"]);
    for (const [, service] of apps) {
      expect(service.command?.[0]).toBe("node");
      expect(BUILT_FILES).toContain(service.command?.[1]);
    }
  });

  it("gives the scheduler and the workers a HEALTH_PORT for the image's HEALTHCHECK, keeping the shared settings", () => {
    for (const name of ["scheduler", "worker"]) {
      expect(compose.services[name]?.environment).toMatchObject({
        HEALTH_PORT: expect.any(String),
        REDIS_URL: "redis://redis:6379",
      });
    }
  });
});
