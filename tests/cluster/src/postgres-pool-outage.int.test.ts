import { openDatabase, type DatabaseHandle } from "@ensemble/db";
import { PrivatePostgres } from "./private-stores.js";

const OUTAGE_MS = 10_000;
/** After Postgres is back, by when every statement and transaction begun before must have settled. */
const SETTLE_MS = 15_000;

/**
 * The database handle's pool while Postgres stops and starts under concurrent work. A
 * statement or transaction that never settles hangs whatever awaits it for good: a step
 * job stays active (its lock renewed by a live worker), so neither BullMQ nor the sweeper
 * ever runs that step again and its flow stays running.
 */
describe("the Postgres pool across an outage", () => {
  let pg: PrivatePostgres;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    pg = await PrivatePostgres.start();
    handle = await openDatabase({ url: pg.url, maxConnections: 10 });
  });
  afterAll(async () => {
    await handle?.close().catch(() => undefined);
    await pg?.stop();
  });

  it("settles every transaction and statement once Postgres is back", async () => {
    // Each operation in flight, with when it began; removed once it settled (either way).
    const open = new Map<number, { kind: string; since: number }>();
    let next = 0;
    let stopping = false;
    const loop = async (kind: "transaction" | "statement"): Promise<void> => {
      while (!stopping) {
        const id = next++;
        open.set(id, { kind, since: Date.now() });
        try {
          if (kind === "transaction")
            // Several statements: the later ones wait in the reserved connection's queue.
            await handle.transact(async (tx) => {
              await Promise.all([tx.execute("select pg_sleep(0.02)"), tx.execute("select 1")]);
              await tx.execute("select 2");
            });
          else await handle.db.execute("select pg_sleep(0.02)");
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
        open.delete(id);
      }
    };
    // More work than connections, so reservations also wait for one.
    const loops = Array.from({ length: 40 }, (_, i) => loop(i % 2 === 0 ? "transaction" : "statement"));
    await new Promise((r) => setTimeout(r, 1_500));
    await pg.down();
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    await pg.up();
    await new Promise((r) => setTimeout(r, SETTLE_MS));

    const stuck = [...open.values()].filter((op) => op.since < downAt + OUTAGE_MS);
    stopping = true;
    expect(stuck.map((op) => `${op.kind} pending since ${new Date(op.since).toISOString()}`)).toEqual([]);
    await Promise.all(loops);
    // And the pool works afterwards.
    const rows = await handle.transact(async (tx) => tx.execute("select 42 as answer"));
    expect(rows).toEqual(expect.arrayContaining([{ answer: 42 }]));
  });
});
