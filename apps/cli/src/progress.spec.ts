import { PassThrough } from 'node:stream';
import type { Run } from '@amend/contracts';
import { createProgressReporter, formatBatch, formatDuration, formatUsd, progressLine, progressStats } from './progress';

function run(counts: Partial<Run['counts']>, status: Run['status'] = 'running'): Run {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    status,
    mode: 'critique-revise',
    constitution: { name: 'harmless', version: '1.0.0', sha256: 'f'.repeat(64) },
    rounds: 1,
    seed: 1,
    model: 'default',
    feedback_model: null,
    sampling: { temperature: 0.7, top_p: 1, max_tokens: 512 },
    counts: { total: 100, pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, ...counts },
    usage: { calls: 0, prompt_tokens: 0, completion_tokens: 0 },
    failures: [],
    simulated: true,
    created_at: '2025-01-01T00:00:00.000Z',
    started_at: null,
    finished_at: null,
  };
}

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return () => text;
}

describe('progress', () => {
  it('counts failed and cancelled samples as done, and pairs/s from completed ones only', () => {
    const s = progressStats(run({ completed: 30, failed: 10, cancelled: 0 }), [
      { at: 0, done: 0, completed: 0 },
      { at: 10_000, done: 40, completed: 30 },
    ]);
    expect(s.done).toBe(40);
    expect(s.pairsPerSecond).toBeCloseTo(3);
    expect(s.etaSeconds).toBeCloseTo(15); // 60 left at 4 done/s
  });

  it('measures the rate over the recent window, not since submission', () => {
    // Queued for 100 s, then 10 samples/s for the last 10 s.
    const s = progressStats(
      run({ completed: 100, total: 200 }),
      [
        { at: 0, done: 0, completed: 0 },
        { at: 100_000, done: 0, completed: 0 },
        { at: 110_000, done: 100, completed: 100 },
      ],
      30_000,
    );
    expect(s.pairsPerSecond).toBeCloseTo(10);
    expect(s.etaSeconds).toBeCloseTo(10);
  });

  it('has no rate and no ETA before anything moves', () => {
    const s = progressStats(run({ pending: 100 }), [
      { at: 0, done: 0, completed: 0 },
      { at: 5_000, done: 0, completed: 0 },
    ]);
    expect(s.pairsPerSecond).toBe(0);
    expect(s.etaSeconds).toBeNull();
    expect(progressStats(run({}), []).pairsPerSecond).toBeNull();
  });

  it('formats durations for people', () => {
    expect(formatDuration(null)).toBe('--');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(125)).toBe('2m 05s');
    expect(formatDuration(3 * 3600 + 7 * 60)).toBe('3h 07m');
  });

  it('without a terminal prints a line at most every interval, and the final state on stop', () => {
    const out = new PassThrough();
    const text = collect(out);
    let now = 0;
    const progress = createProgressReporter(out, { tty: false, lineIntervalMs: 5_000, now: () => now });
    progress.update(run({ completed: 0, pending: 100 }));
    now = 1_000;
    progress.update(run({ completed: 10, pending: 90 }));
    now = 5_000;
    progress.update(run({ completed: 50, pending: 50 }));
    now = 6_000;
    progress.stop(run({ completed: 98, failed: 2 }, 'completed'));
    const lines = text().trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/running: 0\/100 done \(0%\), 0 completed, 0 failed/);
    expect(lines[1]).toMatch(/running: 50\/100 done \(50%\), 50 completed, 0 failed, 10 pairs\/s, ETA 5s/);
    expect(lines[2]).toMatch(/completed: 100\/100 done \(100%\), 98 completed, 2 failed, .* ETA 0s/);
  });

  it('on a terminal draws a bar with counts, rate and ETA', () => {
    const out = Object.assign(new PassThrough(), { isTTY: true, columns: 160, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    const text = collect(out);
    let now = 0;
    const progress = createProgressReporter(out, { tty: true, now: () => now });
    progress.update(run({ completed: 0, pending: 100 }));
    now = 10_000;
    progress.stop(run({ completed: 40, failed: 5, pending: 55 }));
    expect(text()).toMatch(/45\/100 done \| 40 completed, 5 failed \| 4\.0 pairs\/s \| ETA 12s/);
  });

  it("shows a batch run's wave and each batch's request counts, and nothing for an online run", () => {
    const counts = (total: number, completed: number, failed: number) => ({ total, completed, failed });
    const batch = (status: string, c: { total: number; completed: number; failed: number }) => ({
      id: 'batch_1',
      wave: 2,
      part: 0,
      alias: 'default',
      status,
      applied: false,
      request_counts: c,
      created_at: '2025-01-01T00:00:00.000Z',
    });
    const r: Run = {
      ...run({ pending: 100 }),
      batch: {
        wave: 2,
        pending: 2,
        batches: [batch('in_progress', counts(50_000, 12_000, 3)), batch('validating', counts(20, 0, 0))],
        totals: { batches: 4, requests: 100_040, completed: 62_000, failed: 3 },
      },
    };
    expect(formatBatch(r)).toBe('wave 2: in_progress 12003/50000, 3 failed; validating 0/20');
    expect(formatBatch({ ...r, batch: { wave: null, pending: 0, batches: [], totals: { batches: 0, requests: 0, completed: 0, failed: 0 } } })).toBe(
      'wave 0: submitting',
    );
    expect(formatBatch(run({}))).toBeNull();
    const s = progressStats(r, []);
    expect(progressLine(r.id, r.status, s, formatBatch(r))).toMatch(/ETA -- \| wave 2: in_progress 12003\/50000, 3 failed; validating 0\/20$/);
  });

  describe('calls within samples', () => {
    /** 20 samples of 7 calls (3 rounds): 140 planned; `calls` made so far, none finished yet. */
    const long = (calls: number, extra: Partial<Run['usage']> = {}): Run => ({
      ...run({ total: 20, running: 20 }),
      usage: { calls, calls_planned: 140, prompt_tokens: 100 * calls, completion_tokens: 10 * calls, ...extra },
    });

    it('moves with calls while no sample has finished, and takes the ETA from the call rate', () => {
      const s = progressStats(long(35), [
        { at: 0, done: 0, completed: 0, calls: 5 },
        { at: 10_000, done: 0, completed: 0, calls: 35 },
      ]);
      expect(s.calls).toEqual({ done: 35, planned: 140 });
      // 30 calls in 10 s is 3 calls/s; 105 calls left.
      expect(s.etaSeconds).toBeCloseTo(35);
      expect(progressLine(long(35).id, 'running', s)).toMatch(
        /running: 0\/20 done \(0%\), 0 completed, 0 failed, 35\/140 calls \(25%\), 0\.0 pairs\/s, ETA 35s, 3,850 tokens$/,
      );
    });

    it('adds the cost when the run has prices', () => {
      const s = progressStats(long(35, { cost_usd: 0.0421 }), []);
      expect(progressLine(long(35).id, 'running', s)).toMatch(/ETA --, 3,850 tokens, \$0\.0421$/);
    });

    it('on a terminal fills the bar by calls and still shows finished samples', () => {
      const out = Object.assign(new PassThrough(), { isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
      const text = collect(out);
      let now = 0;
      const progress = createProgressReporter(out, { tty: true, now: () => now });
      progress.update(long(0));
      now = 10_000;
      progress.stop({ ...long(70), counts: { ...long(70).counts, running: 18, completed: 2 } });
      expect(text()).toMatch(/50% \| 70\/140 calls, 2\/20 done \| 2 completed, 0 failed \| 0\.2 pairs\/s \| ETA 10s \| 7,700 tokens/);
    });

    it('writes dollars with the digits a small run needs', () => {
      expect([formatUsd(0), formatUsd(0.000123), formatUsd(0.0421), formatUsd(0.5), formatUsd(12.345)]).toEqual([
        '$0',
        '$0.000123',
        '$0.0421',
        '$0.5',
        '$12.35',
      ]);
    });
  });
});
