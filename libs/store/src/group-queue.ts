/**
 * Statements that go together while one is in flight: items submitted while a group is being
 * written wait for it and then go as the next group, in one statement; with none in flight an item
 * goes at once (no timer, so no added latency at low load). One Postgres round trip, parse, plan
 * and commit (with its WAL flush) then serves many samples, which is what bounds Postgres's CPU
 * per pair at high concurrency. Each item resolves with its own answer from the group's.
 */
export class GroupQueue<I, O> {
  private queue: Pending<I, O>[] = [];
  private flushing = false;
  /** Items submitted and statements sent, for tests and metrics. */
  readonly stats = { items: 0, statements: 0 };

  /**
   * `write` sends one group and answers each item by its index, or throws (every item of the
   * group then rejects with the error). `keyOf`: at most one item per key in a group (a second one
   * waits for the next). `max`: the most items in one group, so one statement stays bounded.
   */
  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly keyOf: (item: I) => string,
    private readonly max: number,
  ) {}

  submit(item: I): Promise<O> {
    this.stats.items++;
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) void this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) await this.flush(this.take());
    } finally {
      this.flushing = false;
    }
  }

  /** The next group: at most `max`, one item per key, in the order submitted. */
  private take(): Pending<I, O>[] {
    const seen = new Set<string>();
    const group: Pending<I, O>[] = [];
    const rest: Pending<I, O>[] = [];
    for (const p of this.queue) {
      const key = this.keyOf(p.item);
      if (group.length < this.max && !seen.has(key)) {
        seen.add(key);
        group.push(p);
      } else rest.push(p);
    }
    this.queue = rest;
    return group;
  }

  private async flush(group: Pending<I, O>[]): Promise<void> {
    this.stats.statements++;
    let answers: O[];
    try {
      answers = await this.write(group.map((p) => p.item));
    } catch (err) {
      for (const p of group) p.reject(err);
      return;
    }
    group.forEach((p, k) => p.resolve(answers[k]));
  }
}

interface Pending<I, O> {
  item: I;
  resolve: (answer: O) => void;
  reject: (err: unknown) => void;
}
