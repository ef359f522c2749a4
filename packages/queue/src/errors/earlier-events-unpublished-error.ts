/**
 * A durable event's flow has earlier durable events (committed before it) that its Redis
 * stream lacks — their process died, or lost Redis, before publishing them. Publishing it
 * now would put it ahead of them: the caller publishes them first (`ProgressBus.relay`).
 */
export class EarlierEventsUnpublishedError extends Error {
  override readonly name = "EarlierEventsUnpublishedError";
  readonly flowId: string;

  constructor(flowId: string) {
    super(`flow ${flowId} has earlier events not published yet`);
    this.flowId = flowId;
  }
}
