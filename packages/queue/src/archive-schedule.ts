import type { Redis } from "ioredis";
import { DEFAULT_QUEUE_PREFIX } from "./queue-names.js";
import { callRedis } from "./redis-availability.js";
import { defineRedisScript, type RedisScript } from "./redis-script.js";

export interface ArchiveScheduleOptions {
  /** Any connection; with a fail-fast one, calls fail at once while Redis is down. The caller owns it. */
  connection: Redis;
  /** Key prefix (env `QUEUE_PREFIX`). Default: `ensemble`. */
  prefix?: string;
  /** With a fail-fast connection: how long a call waits for it to (re)connect. Default: 1000 ms. */
  readyTimeoutMs?: number;
}

/** A flow due for archiving, with the time it was scheduled for (ms). */
export interface DueArchive {
  flowId: string;
  dueAtMs: number;
}

/**
 * Flows whose events are due to be copied to Postgres, as one sorted set (score: when).
 * Ended runs are added here instead of each getting a delayed job: the scheduler archives
 * whatever is due in batches (`flow.archive-due`, every second), one job for many flows.
 * Key: `<prefix>:events:archive-due`.
 */
export class ArchiveSchedule {
  readonly key: string;
  private readonly connection: Redis;
  private readonly readyTimeoutMs: number;
  private readonly removeScript: RedisScript;

  constructor(options: ArchiveScheduleOptions) {
    this.connection = options.connection;
    this.key = `${options.prefix ?? DEFAULT_QUEUE_PREFIX}:events:archive-due`;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 1_000;
    this.removeScript = defineRedisScript(this.connection, REMOVE_IF_UNCHANGED_COMMAND, REMOVE_IF_UNCHANGED_SCRIPT, 1);
  }

  /** Schedules flows for archiving at `dueAtMs` (a flow already scheduled moves to that time). */
  async add(flowIds: readonly string[], dueAtMs: number): Promise<void> {
    if (flowIds.length === 0) return;
    await this.call("schedule archive", () =>
      this.connection.zadd(this.key, ...flowIds.flatMap((id) => [dueAtMs, id])),
    );
  }

  /** Up to `limit` flows due at `nowMs`, earliest first. */
  async due(nowMs: number, limit: number): Promise<DueArchive[]> {
    const flat = await this.call("read due archives", () =>
      this.connection.zrangebyscore(this.key, "-inf", nowMs, "WITHSCORES", "LIMIT", 0, limit),
    );
    const due: DueArchive[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) due.push({ flowId: flat[i] as string, dueAtMs: Number(flat[i + 1]) });
    return due;
  }

  /** Removes archived flows, unless one was scheduled again meanwhile (its run ended again): that one stays. */
  async done(archived: readonly DueArchive[]): Promise<void> {
    if (archived.length === 0) return;
    await this.call("remove archived", () =>
      this.removeScript(this.key, ...archived.flatMap((a) => [a.flowId, a.dueAtMs])),
    );
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return callRedis(this.connection, this.readyTimeoutMs, operation, fn);
  }
}

const REMOVE_IF_UNCHANGED_COMMAND = "ensembleArchiveDoneV1";
// ARGV: member, score, repeated. Removes a member only while its score is still that one.
const REMOVE_IF_UNCHANGED_SCRIPT = `
local removed = 0
for i = 1, #ARGV, 2 do
  local score = redis.call("ZSCORE", KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    removed = removed + redis.call("ZREM", KEYS[1], ARGV[i])
  end
end
return removed`;
