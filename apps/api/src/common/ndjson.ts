import type { Response } from 'express';

/**
 * Writes JSON Lines to a response, paced by the client: each write waits while the socket's
 * buffer is full, so a slow reader of a million lines holds one page in memory, not the export.
 */
export class NdjsonWriter {
  private closed = false;

  constructor(private readonly res: Response) {
    res.status(200).setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
    res.on('close', () => (this.closed = true));
  }

  /** The client went away: stop reading from the source. */
  get isClosed(): boolean {
    return this.closed;
  }

  async write(value: unknown): Promise<void> {
    if (!this.res.write(JSON.stringify(value) + '\n')) await this.drainedOrClosed();
  }

  end(): void {
    this.res.end();
  }

  private drainedOrClosed(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }
}
