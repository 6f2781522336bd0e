/**
 * Background work that runs now and then: a round at `kick()` (an enqueue, an event: soon, and once
 * more after the round in flight however often it was kicked meanwhile) and every `pollMs` when
 * idle. A round that throws is the worker's to report; the loop goes on. `stop()` waits for the
 * round in flight. The job runner and the events' delivery worker share it.
 */
export class PollLoop {
  readonly #round: () => Promise<unknown>;
  readonly #pollMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;

  constructor(round: () => Promise<unknown>, pollMs: number) {
    this.#round = round;
    this.#pollMs = pollMs;
  }

  /** True before start() and after stop(): a round in flight should end early. */
  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.kick();
  }

  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#running = this.#round()
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        this.#running = undefined;
        if (this.#stopped) return;
        if (this.#again) {
          this.#again = false;
          this.kick();
        } else this.#timer = setTimeout(() => this.kick(), this.#pollMs).unref();
      });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
