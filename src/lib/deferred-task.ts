/**
 * A task run once, `delayMs` after the first `soon()` since it last ran: work that can wait for a
 * moment, and that a caller may do sooner itself (calling `cancel()` once done). A task that throws
 * from the timer is logged under `name` and asked for again.
 */
export class DeferredTask {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly name: string,
    private readonly delayMs: number,
    private readonly task: () => void,
  ) {}

  soon(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      try {
        this.task();
      } catch (error) {
        console.error(JSON.stringify({ event: `${this.name}_failed`, error: String(error) }));
        this.soon();
      }
    }, this.delayMs);
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
