/**
 * Batches token deltas into one progress event per interval: a provider may stream
 * hundreds of tiny deltas a second, and each event is a Redis round trip and a
 * message to every client.
 */
export class ProgressCoalescer {
  private buffer = "";
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (delta: string) => void,
  ) {}

  push(delta: string): void {
    this.buffer += delta;
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.buffer) return;
    const delta = this.buffer;
    this.buffer = "";
    this.emit(delta);
  }
}
