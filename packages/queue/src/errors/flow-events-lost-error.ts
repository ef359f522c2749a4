/**
 * A flow's event numbering is gone from Redis (wiped, or expired) while its run still
 * publishes: numbering again from 1 would reuse ids clients have seen, so the event is
 * refused. The outbox relay restores the flow's durable events from Postgres and numbers
 * on above any id used before.
 */
export class FlowEventsLostError extends Error {
  override readonly name = "FlowEventsLostError";
  readonly flowId: string;

  constructor(flowId: string) {
    super(`the event numbering of flow ${flowId} is not in Redis; the outbox relay restores it`);
    this.flowId = flowId;
  }
}
