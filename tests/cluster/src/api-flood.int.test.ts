import { Cluster } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant, type Tenant } from "./tenants.js";

// One API key floods the API far past its rate limit while another key goes about its
// business: the flooder is refused (429 with Retry-After), the other key never is, and
// never sees a 5xx. `pnpm bench:flood` measures what the flood does to the other key's
// latency.

const LIMIT = 10;
const WINDOW_MS = 1_000;
/** The flood, bounded in time and count, on 127.0.0.1. */
const FLOOD_LANES = 16;
const FLOOD_MS = 5_000;
const FLOOD_MAX_REQUESTS = 10_000;
/** The quiet key: one request every 200 ms (at most 5/s, half its limit). */
const QUIET_EVERY_MS = 200;

describe("a key flooding the API past its rate limit", () => {
  let cluster: Cluster;
  let flooder: Tenant;
  let quiet: Tenant;
  beforeAll(async () => {
    cluster = await Cluster.start({
      workers: 0,
      env: {
        ADMIN_TOKEN,
        LOG_LEVEL: "warn",
        RATE_LIMIT_REQUESTS: String(LIMIT),
        RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
      },
    });
    [flooder, quiet] = await Promise.all([
      createTenant(cluster.baseUrl, "flooder"),
      createTenant(cluster.baseUrl, "quiet"),
    ]);
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  const policies = async (key: string): Promise<{ status: number; retryAfter: string | null; ms: number }> => {
    const started = performance.now();
    const res = await fetch(`${cluster.baseUrl}/v1/policies`, { headers: { authorization: `Bearer ${key}` } });
    await res.arrayBuffer();
    return { status: res.status, retryAfter: res.headers.get("retry-after"), ms: performance.now() - started };
  };

  it("refuses the flooder with 429 and Retry-After, and never the other key (no 429, no 5xx)", async () => {
    const deadline = Date.now() + FLOOD_MS;
    const flood: { status: number; retryAfter: string | null }[] = [];
    const lane = async (): Promise<void> => {
      while (Date.now() < deadline && flood.length < FLOOD_MAX_REQUESTS) flood.push(await policies(flooder.key));
    };
    const quietCalls: { status: number; ms: number }[] = [];
    const quietLoop = async (): Promise<void> => {
      while (Date.now() < deadline) {
        quietCalls.push(await policies(quiet.key));
        await new Promise((resolve) => setTimeout(resolve, QUIET_EVERY_MS));
      }
    };
    await Promise.all([...Array.from({ length: FLOOD_LANES }, lane), quietLoop()]);

    const count = (calls: { status: number }[]): Record<number, number> =>
      calls.reduce<Record<number, number>>((acc, c) => ({ ...acc, [c.status]: (acc[c.status] ?? 0) + 1 }), {});
    const quietMs = quietCalls.map((c) => c.ms).sort((a, b) => a - b);
    const p99 = quietMs[Math.ceil(0.99 * quietMs.length) - 1] ?? Infinity;
    process.stdout.write(
      `flood: flooder ${flood.length} requests ${JSON.stringify(count(flood))}; quiet ${quietCalls.length} requests ${JSON.stringify(count(quietCalls))}, p99 ${p99.toFixed(1)} ms\n`,
    );

    // The flooder went far past its limit and was refused, each time saying when to retry.
    const refused = flood.filter((c) => c.status === 429);
    expect(refused.length).toBeGreaterThan(flood.length / 2);
    expect(flood.every((c) => c.status === 200 || c.status === 429)).toBe(true);
    for (const c of refused) expect(Number(c.retryAfter)).toBeGreaterThanOrEqual(1);
    // Within its limit: at most LIMIT per window got through.
    expect(flood.length - refused.length).toBeLessThanOrEqual(LIMIT * (Math.ceil(FLOOD_MS / WINDOW_MS) + 1));
    // The other key: every request answered, none refused.
    expect(quietCalls.length).toBeGreaterThan(5);
    expect(count(quietCalls)).toEqual({ 200: quietCalls.length });
    expect(cluster.processes.filter((p) => p.child.exitCode !== null).map((p) => p.name)).toEqual([]);
  }, 60_000);
});
