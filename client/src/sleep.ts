/** A delay that can be cut short (restart command, deactivation). No vscode import. */
export class WakeableSleep {
  private wake: (() => void) | null = null;
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        if (self.wake === done) self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }
  /** Ends the current sleep now (no-op when none). */
  interrupt(): void {
    this.wake?.();
  }
  get sleeping(): boolean {
    return this.wake !== null;
  }
}
