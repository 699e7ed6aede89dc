import type { Address, EngineDriver, Session } from './engines';

/** One write the server acknowledged. */
export interface AckedWrite {
  readonly seq: number;
  /** When the acknowledgement arrived (ms since the epoch). */
  readonly at: number;
  /** The node that acknowledged it. */
  readonly nodeId: string;
}

export interface WriterTarget {
  readonly nodeId: string;
  readonly address: Address;
}

/**
 * An application writing a sequence of keys/rows (1, 2, 3, …) to whatever it thinks is the primary, as a
 * client with a sticky connection does: it keeps writing to the node that took its last write; when a
 * write fails it asks the servers (directly, it is not partitioned from them) which one is a writable
 * primary and goes on there. Every acknowledged write is recorded with its time; a write that failed or
 * timed out is not (its fate is unknown to the client, so nothing is promised about it).
 */
export class Writer {
  readonly acked: AckedWrite[] = [];
  #seq = 0;
  #failures = 0;
  #running = false;
  #loop: Promise<void> | undefined;
  #session: { target: WriterTarget; session: Session } | undefined;

  constructor(
    private readonly driver: EngineDriver,
    private readonly targets: () => readonly WriterTarget[],
    private readonly options: { intervalMs?: number; timeoutMs?: number } = {},
  ) {}

  /** Writes not acknowledged (failed or timed out). */
  get failures(): number {
    return this.#failures;
  }

  /** The node that took the last write, if the writer has one. */
  get target(): string | undefined {
    return this.#session?.target.nodeId;
  }

  /** The highest sequence number acknowledged so far (0 when none). */
  lastAcked(): number {
    return this.acked.at(-1)?.seq ?? 0;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops writing; resolves when the write in flight has settled. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    this.#session?.session.close();
    this.#session = undefined;
  }

  /** Resolves once `count` more writes were acknowledged (deadline `timeoutMs`). */
  async waitForAcks(count: number, timeoutMs = 30_000): Promise<void> {
    const goal = this.acked.length + count;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.length < goal) {
      if (Date.now() > deadline)
        throw new Error(`the writer got ${goal - this.acked.length} fewer acknowledgements than awaited`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async #run(): Promise<void> {
    const interval = this.options.intervalMs ?? 100;
    const timeout = this.options.timeoutMs ?? 1_000;
    while (this.#running) {
      const started = Date.now();
      try {
        const current = this.#session ?? (await this.#discover(timeout));
        if (current !== undefined) {
          const seq = this.#seq + 1;
          this.#seq = seq;
          try {
            await current.session.write(seq);
            this.acked.push({ seq, at: Date.now(), nodeId: current.target.nodeId });
          } catch {
            this.#failures++;
            current.session.close();
            this.#session = undefined;
          }
        }
      } catch {
        // no primary found this time: try again next tick
      }
      const wait = interval - (Date.now() - started);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Asks every server whether it is a writable primary; opens a session on the first that is. */
  async #discover(timeout: number): Promise<{ target: WriterTarget; session: Session } | undefined> {
    for (const target of this.targets()) {
      const writable = await this.driver.writable(target.address).catch(() => false);
      if (!writable) continue;
      try {
        const session = await this.driver.open(target.address, timeout);
        this.#session = { target, session };
        return this.#session;
      } catch {
        // gone meanwhile
      }
    }
    return undefined;
  }
}
