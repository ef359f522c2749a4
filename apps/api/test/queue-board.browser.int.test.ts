import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type Page } from "playwright-core";
import { TestApi } from "./support/test-api.js";

// Bull Board is a React app: a 200 on /admin/queues proves little. This test logs in the
// way a person does and checks what the page renders, in headless Chromium.
// Chromium comes from Debian (scripts/setup.sh and .ci/run install it); `npx playwright
// install` needs a download site this project does not depend on.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ADMIN_TOKEN = "browser-admin-token-0123456789abcdef";

const FLOW = {
  name: "Browser Pipeline",
  type: "sequential",
  steps: [{ id: "outline", provider: "sim", model: "echo", action: "generate", prompt: "original" }],
};

describe("Bull Board in headless Chromium", () => {
  let api: TestApi;
  let browser: Browser;
  const shots = mkdtempSync(join(tmpdir(), "ensemble-board-"));

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}: run scripts/setup.sh (apt-get install chromium) or set CHROMIUM_PATH`,
      );
    }
    api = await TestApi.start({ adminToken: ADMIN_TOKEN });
    const { key } = await api.createUser();
    await api.runFlow(key, FLOW, "a prompt for the board");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    if (!process.env.KEEP_SCREENSHOTS) rmSync(shots, { recursive: true, force: true });
  }, 60_000);

  it("without logging in, the board is a 401", async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${api.baseUrl}/admin/queues`);
    expect(response?.status()).toBe(401);
    expect(await page.textContent("body")).toContain("admin token required");
    await page.close();
  });

  it("after /admin/login, the board renders both queues and the flow's readable job names", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const refused = collectCspViolations(page);
    const response = await page.goto(`${api.baseUrl}/admin/login?token=${encodeURIComponent(ADMIN_TOKEN)}`);
    // Redirected to the board, which the cookie now opens.
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/admin/queues");
    const cookies = await context.cookies();
    expect(cookies).toContainEqual(
      expect.objectContaining({ name: "ensemble_admin", httpOnly: true, sameSite: "Strict", path: "/admin" }),
    );
    expect(cookies.map((c) => c.value).join()).not.toContain(ADMIN_TOKEN); // a session id, not the token

    // The queue names are rendered by the React app from its JSON API (not in the HTML).
    await page.getByText("Ensemble queues").first().waitFor({ timeout: 20_000 });
    await page.getByRole("link", { name: /flows/ }).first().waitFor({ timeout: 20_000 });
    // One queue per provider pool (the provider catalog's): the sim steps are in steps-sim.
    await page
      .getByRole("link", { name: /steps-sim/ })
      .first()
      .waitFor({ timeout: 20_000 });
    const overview = join(shots, "overview.png");
    await page.screenshot({ path: overview, fullPage: true });
    expect(statSync(overview).size).toBeGreaterThan(10_000);

    // The sim pool's completed jobs carry "step.run · <flow> › <step>".
    await page.goto(`${api.baseUrl}/admin/queues/queue/steps-sim?status=completed`);
    await page.getByText("step.run · Browser Pipeline › outline").first().waitFor({ timeout: 20_000 });
    await page.screenshot({ path: join(shots, "steps.png"), fullPage: true });

    // The board's own writes (same origin, with the session cookie) pass the CSRF check.
    const pausedFromBoard = await page.evaluate(
      async () => (await fetch("api/queues/steps-sim/pause", { method: "PUT" })).status,
    );
    expect(pausedFromBoard).toBe(200);
    expect(
      await page.evaluate(async () => (await fetch("api/queues/steps-sim/resume", { method: "PUT" })).status),
    ).toBe(200);
    // Under the board's CSP nothing the UI needs is refused (only the third-party font stylesheet it links).
    expect(refused.filter((message) => !message.includes("fonts.googleapis.com"))).toEqual([]);
    await context.close();
  }, 60_000);

  it("a page on another port of the same host cannot make the logged-in browser add a job (CSRF)", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${api.baseUrl}/admin/login?token=${encodeURIComponent(ADMIN_TOKEN)}`);
    // Same site (127.0.0.1), another origin: SameSite=Strict still sends the cookie.
    const attacker = createServer((_req, res) => {
      res.setHeader("content-type", "text/html");
      res.end(
        `<form method="POST" action="${api.baseUrl}/admin/queues/api/queues/flows/add"></form><script>document.forms[0].submit()</script>`,
      );
    });
    attacker.listen(0, "127.0.0.1");
    await once(attacker, "listening");
    try {
      const [post] = await Promise.all([
        page.waitForResponse((res) => res.url().endsWith("/api/queues/flows/add")),
        page.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`),
      ]);
      expect(await post.request().allHeaders()).toEqual(
        expect.objectContaining({ cookie: expect.stringContaining("ensemble_admin=") }),
      );
      expect(post.status()).toBe(403);
      expect(await post.json()).toEqual({ error: expect.objectContaining({ code: "forbidden" }) });
      const jobs = await fetch(`${api.baseUrl}/admin/queues/api/queues?activeQueue=flows&status=waiting`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const flows = ((await jobs.json()) as { queues: { name: string; counts: Record<string, number> }[] }).queues.find(
        (q) => q.name === "flows",
      );
      expect(flows?.counts.waiting ?? 0).toBe(0);
    } finally {
      attacker.close();
      await context.close();
    }
  }, 60_000);
});

/** Console messages in which Chromium reports a Content-Security-Policy refusal. */
function collectCspViolations(page: Page): string[] {
  const refused: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) refused.push(message.text());
  });
  return refused;
}
