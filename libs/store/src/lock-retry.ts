/**
 * Where only one caller needs to act on a row (close a run, close an evaluation, stop a run), the
 * others do not queue on its lock holding a pool connection (issue 23, docs/concurrency.md): they
 * take the lock with SKIP LOCKED and answer BUSY when someone holds it. BUSY is not "done": the
 * holder may have looked before this caller's own commit (and seen the run still going), so the
 * caller looks again once the holder is gone, holding no connection while it waits.
 */
export const BUSY = Symbol('busy');
export type Busy = typeof BUSY;

/** SQLSTATEs after which the whole transaction rolled back and asking again is safe: deadlock, lock_timeout. */
export function isLockConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '55P03';
}

export class StillBusyError extends Error {
  readonly code = 'still_busy';
}

/**
 * Runs `attempt` until it answers something other than BUSY, and again after a deadlock or a lock
 * wait past lock_timeout, with a growing pause between tries (10 ms to 250 ms, no connection held).
 * Past `deadlineMs` it throws StillBusyError: the caller's job is retried or its request answered
 * 503, never left hanging.
 */
export async function untilNotBusy<T>(what: string, attempt: () => Promise<T | Busy>, deadlineMs = 30_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let pause = 10;
  for (;;) {
    try {
      const r = await attempt();
      if (r !== BUSY) return r as T;
    } catch (err) {
      if (!isLockConflict(err) || Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new StillBusyError(`${what}: another session still held it after ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pause * (0.5 + Math.random())));
    pause = Math.min(250, pause * 2);
  }
}
