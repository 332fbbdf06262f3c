/** A sleep that news cuts short: `sleep(ms)` resolves true if `poke()` comes first, false after `ms`. */
export class Wakeup {
  private wake: (() => void) | undefined;

  sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(false);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(true);
      };
    });
  }

  /** Ends the current sleep, if any; news that comes while awake is for the caller to check. */
  poke(): void {
    this.wake?.();
  }
}
