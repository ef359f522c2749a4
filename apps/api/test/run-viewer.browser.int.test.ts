import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { TestApi } from "./support/test-api.js";

// The run viewer (/ui) as a person uses it, in headless Chromium: sign in with a key,
// watch a run move, read another user's run (and fail to). Chromium comes from Debian
// (scripts/setup.sh and .ci/run install it).
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const REPO_ROOT = resolve(import.meta.dirname, "../../..");
/** Screenshots are kept here after the run (git-ignored); docs/run-viewer.md shows one. */
const ARTIFACTS = join(REPO_ROOT, "test-artifacts", "run-viewer");

jest.setTimeout(60_000);

const STREAMED_WORDS = Array.from({ length: 24 }, (_, i) => `w${i + 1}`).join(" ");
const LIVE_FLOW = {
  name: "Live draft",
  type: "sequential",
  steps: [
    {
      id: "draft",
      provider: "sim",
      model: `text?value=${encodeURIComponent(STREAMED_WORDS)}&tokensPerSecond=6`,
      action: "generate",
      prompt: "original",
    },
    { id: "polish", provider: "sim", model: "echo", action: "refine", prompt: "Polish: {{ previous }}" },
  ],
};
const CRITIQUE_FLOW = {
  name: "Code review",
  type: "critique",
  steps: [
    { id: "draft", provider: "sim", model: "echo", action: "generate", prompt: "original" },
    {
      id: "critique",
      provider: "sim",
      model: "text?value=Reverse%20the%20operator%3A%20a%20-%20b%20subtracts.",
      action: "critique",
      prompt: "Critique: {{ previous }}",
    },
    { id: "revise", provider: "sim", model: "echo", action: "refine", prompt: "Fix it: {{ all }}" },
  ],
};

describe("run viewer (/ui) in headless Chromium", () => {
  let api: TestApi;
  let browser: Browser;
  let alice: { userId: string; key: string };
  let bob: { userId: string; key: string };
  let threadId: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/setup.sh (apt-get install chromium)`);
    // The page under test is what Vite builds from apps/ui now.
    execFileSync("pnpm", ["--filter", "@ensemble/ui", "build"], { cwd: REPO_ROOT, stdio: "ignore" });
    mkdirSync(ARTIFACTS, { recursive: true });
    api = await TestApi.start();
    [alice, bob] = [await api.createUser(), await api.createUser()];
    threadId = (await api.request<{ id: string }>(alice.key, "POST", "/v1/threads", { title: "Reviews" })).body.id;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
  }, 60_000);

  /** A page signed in as `key`, collecting CSP violations and page errors. */
  const signedIn = async (key: string): Promise<{ page: Page; problems: string[] }> => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const problems: string[] = [];
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(`${api.baseUrl}/ui/`);
    await page.fill("#api-key", key);
    await page.click("button[type=submit]");
    await page.getByRole("heading", { name: "Threads" }).waitFor();
    return { page, problems };
  };
  const createFlow = async (key: string, definition: unknown): Promise<string> => {
    const created = await api.request<{ id: string }>(key, "POST", "/v1/flows", { threadId, definition });
    expect(created.status).toBe(201);
    return created.body.id;
  };

  it("refuses a bad key, and keeps a good one in the session, never in the URL", async () => {
    const page = await browser.newPage();
    await page.goto(`${api.baseUrl}/ui/`);
    await page.fill("#api-key", "ens_not-a-real-key");
    await page.click("button[type=submit]");
    await page.getByRole("alert").getByText("That API key is not valid.").waitFor();
    await page.fill("#api-key", alice.key);
    await page.click("button[type=submit]");
    await page.getByRole("link", { name: "Reviews" }).waitFor();
    expect(page.url()).not.toContain(alice.key);
    expect(await page.evaluate(`sessionStorage.getItem("ensemble.apiKey")`)).toBe(alice.key);
    await page.close();
  });

  it("shows a live run: the DAG goes from running to completed and a slow step's tokens appear as they stream", async () => {
    const flowId = await createFlow(alice.key, LIVE_FLOW);
    const { page, problems } = await signedIn(alice.key);
    await page.goto(`${api.baseUrl}/ui/#/flows/${flowId}`);
    await page.locator('[data-step="draft"]').first().waitFor();
    expect(await page.getAttribute('g[data-step="draft"]', "data-state")).toBe("pending");

    expect((await api.request(alice.key, "POST", `/v1/flows/${flowId}/execute`, { input: "go" })).status).toBe(202);
    await page.locator('g[data-step="draft"][data-state="running"]').waitFor();
    // Part of the text is on the page while the step is still running.
    await page.locator('[data-testid="streamed"]', { hasText: "w3 " }).waitFor();
    expect(await page.getAttribute('g[data-step="draft"]', "data-state")).toBe("running");
    expect(await page.textContent('[data-testid="streamed"]')).not.toContain("w24");

    await page.locator('[data-testid="run-status"]', { hasText: "completed" }).waitFor({ timeout: 30_000 });
    expect(await page.getAttribute('g[data-step="draft"]', "data-state")).toBe("completed");
    expect(await page.getAttribute('g[data-step="polish"]', "data-state")).toBe("completed");
    expect(await page.textContent('[data-testid="final-output"]')).toContain("w24");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows a completed critique run with each step's output, provider, tokens and timeline (screenshot kept)", async () => {
    const flowId = await createFlow(alice.key, CRITIQUE_FLOW);
    const done = await api.request<{ status: string }>(alice.key, "POST", `/v1/flows/${flowId}/execute?wait=true`, {
      input: "Review: function add(a, b) { return a - b }",
    });
    expect(done.body.status).toBe("completed");
    const { page, problems } = await signedIn(alice.key);
    await page.getByRole("link", { name: "Reviews" }).click();
    await page.getByRole("link", { name: "Code review" }).click();
    await page.locator('[data-testid="run-status"]', { hasText: "completed" }).waitFor();
    for (const step of ["draft", "critique", "revise"])
      expect(await page.getAttribute(`g[data-step="${step}"]`, "data-state")).toBe("completed");
    await page.click('g[data-step="critique"]');
    const panel = page.locator('[data-testid="step-panel"][data-step="critique"]');
    await panel.waitFor();
    expect(await panel.textContent()).toContain("Reverse the operator");
    expect(await panel.textContent()).toMatch(/\d+ in, \d+ out/);
    expect(await page.locator('[data-testid="timeline"] .lane').count()).toBe(3);
    await page.screenshot({ path: join(ARTIFACTS, "critique-run.png"), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("lists a flow's runs, shows a rerun's reused steps, and opens an earlier run (screenshot kept)", async () => {
    const flowId = await createFlow(alice.key, { ...CRITIQUE_FLOW, name: "Rerun review" });
    const first = await api.request<{ status: string }>(alice.key, "POST", `/v1/flows/${flowId}/execute?wait=true`, {
      input: "Review: function add(a, b) { return a - b }",
    });
    expect(first.body.status).toBe("completed");
    const rerun = await api.request(alice.key, "POST", `/v1/flows/${flowId}/runs/1/rerun`, {
      fromStep: "critique",
      overrides: { critique: { model: "text?value=Rename%20the%20function." } },
    });
    expect(rerun.status).toBe(202);
    for (let i = 0; i < 100; i++) {
      const run2 = await api.request<{ status: string }>(alice.key, "GET", `/v1/flows/${flowId}/runs/2`);
      if (run2.body.status === "completed") break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const { page, problems } = await signedIn(alice.key);
    await page.goto(`${api.baseUrl}/ui/#/flows/${flowId}`);
    const list = page.locator('[data-testid="run-list"]');
    await list.waitFor();
    // Newest first; the latest run is the one shown, and says what it reran.
    expect(await list.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run")))).toEqual([
      "2",
      "1",
    ]);
    expect(await list.locator('tr[data-run="2"]').textContent()).toContain("run 1 from critique");
    await page.locator('[data-testid="run-status"]', { hasText: "completed" }).waitFor();
    await page.click('g[data-step="draft"]');
    await page.locator('[data-testid="reused-from"]', { hasText: "from run 1" }).waitFor();
    await page.click('g[data-step="critique"]');
    const rerunPanel = await page.textContent('[data-testid="step-panel"][data-step="critique"]');
    expect(rerunPanel).toContain("Rename the function.");
    // The overridden model is the run's own target, not a fallback.
    expect(rerunPanel).not.toContain("(fallback)");
    await page.screenshot({ path: join(ARTIFACTS, "rerun-runs-list.png"), fullPage: true });

    // Run 1, selected from the list: its own critique, nothing reused.
    await list.getByRole("link", { name: "run 1" }).click();
    await page.locator("h1", { hasText: "run 1" }).waitFor();
    expect(page.url()).toContain(`#/flows/${flowId}/runs/1`);
    await page.click('g[data-step="critique"]');
    const panel = page.locator('[data-testid="step-panel"][data-step="critique"]');
    expect(await panel.textContent()).toContain("Reverse the operator");
    expect(await page.locator('[data-testid="reused-from"]').count()).toBe(0);
    expect(await page.textContent('[data-testid="run-status"]')).toBe("completed");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("never shows another user's flow", async () => {
    const flowId = await createFlow(alice.key, { ...LIVE_FLOW, name: "Alice's secret plan" });
    const { page } = await signedIn(bob.key);
    expect(await page.textContent("main")).not.toContain("Reviews");
    await page.goto(`${api.baseUrl}/ui/#/flows/${flowId}`);
    await page.getByText("flow not found").waitFor();
    expect(await page.textContent("body")).not.toContain("Alice's secret plan");
    await page.close();
  });
});
