import type { FlowStreamUpdate } from "@ensemble/core";
import type { ProgressBus } from "./progress-bus.js";

export interface FollowEventsOptions {
  /** Events read per replay page. Default: 1000. */
  pageSize?: number;
  /** Failures of live catch-up reads and of `onEvent` (following continues). Default: ignored. */
  onError?: (err: unknown) => void;
}

/**
 * Delivers every event of a flow with id > `afterId`, each exactly once and in id order,
 * then keeps delivering live ones until the returned function is called. Resolves once
 * the replay is delivered. Use it for SSE (afterId = Last-Event-ID), WebSocket and
 * wait-for-result.
 *
 * The order of operations is the point: subscribe first, then replay from the stream,
 * then deliver live events whose id is above the last delivered one. Subscribing after
 * reading would lose what is published in between; without the id check, events would be
 * delivered twice. A live event that skips ids (the subscriber reconnected and pub/sub
 * dropped messages) triggers another read, and so does the re-subscription itself.
 */
export async function followEvents(
  bus: ProgressBus,
  flowId: string,
  afterId: number,
  onEvent: (event: FlowStreamUpdate) => void,
  options: FollowEventsOptions = {},
): Promise<() => Promise<void>> {
  const pageSize = options.pageSize ?? 1_000;
  const onError = options.onError ?? (() => undefined);
  let lastDelivered = afterId;
  let stopped = false;

  const deliver = (event: FlowStreamUpdate): void => {
    if (stopped || event.id <= lastDelivered) return;
    lastDelivered = event.id; // before onEvent, so a throwing consumer is not re-fed
    onEvent(event);
  };
  const catchUp = async (): Promise<void> => {
    while (!stopped) {
      const page = await bus.readAfter(flowId, lastDelivered, pageSize);
      for (const event of page) deliver(event);
      if (page.length < pageSize) return;
    }
  };

  // Work runs one task at a time, in arrival order, so reads and live events never
  // interleave. The first task (the replay) waits until the subscription is confirmed.
  let openGate!: () => void;
  const gate = new Promise<void>((resolve) => {
    openGate = resolve;
  });
  const replay = gate.then(catchUp);
  let queue: Promise<void> = replay.catch(() => undefined);
  const enqueue = (task: () => Promise<void> | void): void => {
    queue = queue.then(task).catch(onError);
  };

  const unsubscribe = await bus.subscribe(
    flowId,
    (event) =>
      enqueue(async () => {
        if (event.id > lastDelivered + 1) await catchUp();
        deliver(event);
      }),
    { onResubscribed: () => enqueue(catchUp) },
  );
  openGate();

  const stop = async (): Promise<void> => {
    stopped = true;
    await unsubscribe();
  };
  try {
    await replay;
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}
