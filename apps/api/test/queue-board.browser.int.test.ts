import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
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
      throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/setup.sh (apt-get install chromium) or set CHROMIUM_PATH`);
    }
    api = await TestApi.start({ adminToken: ADMIN_TOKEN });
    const { key } = await api.createUser();
    await api.runFlow(key, FLOW, "a prompt for the board");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    if (!process.env.KEEP_SCREENSHOTS) rmSync(shots, { recursive: true, force: true });
  });

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
    const response = await page.goto(`${api.baseUrl}/admin/login?token=${encodeURIComponent(ADMIN_TOKEN)}`);
    // Redirected to the board, which the cookie now opens.
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/admin/queues");
    const cookies = await context.cookies();
    expect(cookies).toContainEqual(expect.objectContaining({ name: "ensemble_admin", httpOnly: true, sameSite: "Strict", path: "/admin" }));

    // The queue names are rendered by the React app from its JSON API (not in the HTML).
    await page.getByText("Ensemble queues").first().waitFor({ timeout: 20_000 });
    await page.getByRole("link", { name: /flows/ }).first().waitFor({ timeout: 20_000 });
    await page.getByRole("link", { name: /steps/ }).first().waitFor({ timeout: 20_000 });
    const overview = join(shots, "overview.png");
    await page.screenshot({ path: overview, fullPage: true });
    expect(statSync(overview).size).toBeGreaterThan(10_000);

    // The steps queue's completed jobs carry "step.run · <flow> › <step>".
    await page.goto(`${api.baseUrl}/admin/queues/queue/steps?status=completed`);
    await page.getByText("step.run · Browser Pipeline › outline").first().waitFor({ timeout: 20_000 });
    await page.screenshot({ path: join(shots, "steps.png"), fullPage: true });
    await context.close();
  }, 60_000);
});
