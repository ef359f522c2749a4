import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, DEV_KEY, REPO_ROOT } from "./cluster-harness.js";

// `ensemble` as a person runs it: a separate process against a live cluster, configured
// by ENSEMBLE_URL / ENSEMBLE_API_KEY, judged by its exit code and what it prints.

jest.setTimeout(120_000);

const CLI = join(REPO_ROOT, "packages/cli/src/main.ts");

interface CliRun {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number>;
}

describe("the ensemble CLI against a live cluster", () => {
  let cluster: Cluster;
  const dir = mkdtempSync(join(tmpdir(), "ensemble-cli-"));

  const start = (args: string[], env: Record<string, string> = {}): CliRun => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
      cwd: REPO_ROOT, // where `--import tsx` resolves
      env: { ...process.env, ENSEMBLE_URL: cluster.baseUrl, ENSEMBLE_API_KEY: DEV_KEY, ...env },
    });
    let [out, err] = ["", ""];
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? -1)));
    return { child, stdout: () => out, stderr: () => err, exited };
  };
  const run = async (args: string[], env?: Record<string, string>) => {
    const cli = start(args, env);
    const code = await cli.exited;
    return { code, stdout: cli.stdout(), stderr: cli.stderr() };
  };
  const until = async (what: () => boolean, ms = 30_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!what()) {
      if (Date.now() > deadline) throw new Error("timed out waiting");
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const flowIdOf = (stderr: string): string => /flow (\S+) in thread/.exec(stderr)?.[1] ?? "";

  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 1 });
    writeFileSync(
      join(dir, "review.yaml"),
      [
        "name: Review",
        "type: critique",
        "steps:",
        "  - id: draft",
        "    provider: sim",
        "    model: echo",
        "    action: generate",
        "    prompt: original",
        "  - id: critique",
        "    provider: sim",
        '    model: "text?value=Too%20short."',
        "    action: critique",
        '    prompt: "Critique: {{ previous }}"',
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "broken.json"),
      JSON.stringify({
        name: "Broken",
        type: "sequential",
        steps: [
          { id: "only", provider: "sim", model: "fail?code=bad_request", action: "generate", prompt: "original" },
        ],
      }),
    );
    writeFileSync(
      join(dir, "slow.json"),
      JSON.stringify({
        name: "Slow",
        type: "sequential",
        steps: [{ id: "wait", provider: "sim", model: "hang", action: "generate", prompt: "original" }],
      }),
    );
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("runs a YAML flow: progress per step, then the final output, cost and tokens; exit 0", async () => {
    const { code, stdout, stderr } = await run(["run", join(dir, "review.yaml"), "--input", "add(a, b) returns a - b"]);
    expect(code).toBe(0);
    expect(stdout).toContain("Too short.");
    expect(stderr).toMatch(/draft: started on sim\/echo/);
    expect(stderr).toMatch(/critique: completed in [\d.]+ s, \d+ tokens/);
    expect(stderr).toMatch(/completed: \$[\d.]+, \d+ tokens, 2 step results/);
  });

  it("runs the example flow file of docs/cli.md", async () => {
    const { code, stdout } = await run(["run", join(REPO_ROOT, "examples/flows/review.yaml"), "--input", "a - b"]);
    expect(code).toBe(0);
    expect(stdout).toContain("The operator is wrong");
  });

  it("runs a template with parameters and prints JSON with --json", async () => {
    const { code, stdout } = await run([
      "run",
      "critique",
      ...["generatorProvider=sim", "generatorModel=echo", "criticProvider=sim", "criticModel=echo"].flatMap((p) => [
        "--param",
        p,
      ]),
      "--input",
      "hello",
      "--json",
    ]);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { status: string; flowId: string; steps: { provider: string }[] };
    expect(result.status).toBe("completed");
    expect(result.steps.map((s) => s.provider)).toEqual(["sim", "sim", "sim"]);
  });

  it("exits 1 with the step's error when the run fails, and 2 for a file that is not a flow", async () => {
    const failed = await run(["run", join(dir, "broken.json")]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/only: failed: bad_request/);
    expect(failed.stderr).toMatch(/^failed: .*bad_request/m);

    const missing = await run(["run", "nope.yaml"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read nope.yaml: ENOENT");
    const unknown = await run(["run", "no-such-template"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/neither a .yaml\/.yml\/.json file nor a template; templates: .*critique/);
  });

  it("refuses a bad key with exit 5 and says what to check", async () => {
    const { code, stderr } = await run(["flows", "ls"], { ENSEMBLE_API_KEY: "ens_wrong" });
    expect(code).toBe(5);
    expect(stderr).toContain("check ENSEMBLE_API_KEY");
  });

  it("lists flows, shows a status, tails events (resumable) and lists templates", async () => {
    const ran = await run(["run", join(dir, "review.yaml"), "--input", "again"]);
    const flowId = flowIdOf(ran.stderr);
    expect(flowId).not.toBe("");

    const ls = await run(["flows", "ls"]);
    expect(ls.code).toBe(0);
    expect(ls.stdout.split("\n")[0]).toMatch(/^FLOW\s+NAME\s+TYPE\s+STATUS/);
    expect(ls.stdout).toContain(flowId);

    const status = await run(["status", flowId, "--json"]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ flowId, status: "completed", progress: 100 });

    const tail = await run(["tail", flowId]);
    expect(tail.code).toBe(0);
    const lines = tail.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^1\t\S+\tflow_start/);
    expect(lines.at(-1)).toMatch(/\tflow_complete\t/);
    const resumed = await run(["tail", flowId, "--after", String(lines.length - 1)]);
    expect(resumed.stdout.trim().split("\n")).toEqual([lines.at(-1)]);

    const templates = await run(["templates"]);
    expect(templates.stdout).toMatch(/^TEMPLATE\s+TYPE\s+PARAMETERS/);
    expect(templates.stdout).toContain("critique");
  });

  it("Ctrl-C asks whether to cancel; yes cancels the run and exits 3", async () => {
    const cli = start(["run", join(dir, "slow.json")]);
    await until(() => cli.stderr().includes("wait: started"));
    cli.child.kill("SIGINT");
    await until(() => cli.stderr().includes("Cancel the run? [y/N]"));
    cli.child.stdin.write("y\n");
    expect(await cli.exited).toBe(3);
    const status = await run(["status", flowIdOf(cli.stderr()), "--json"]);
    expect(JSON.parse(status.stdout).status).toBe("cancelled");
  });

  it("Ctrl-C with --detach leaves the run going and says how to follow it", async () => {
    const cli = start(["run", join(dir, "slow.json"), "--detach"]);
    await until(() => cli.stderr().includes("wait: started"));
    cli.child.kill("SIGINT");
    expect(await cli.exited).toBe(0);
    const flowId = flowIdOf(cli.stderr());
    expect(cli.stderr()).toContain(`ensemble tail ${flowId}`);
    expect(JSON.parse((await run(["status", flowId, "--json"])).stdout).status).toBe("running");
    expect((await run(["cancel", flowId])).code).toBe(0);
  });
});
