import { mulberry32 } from './prng';

/**
 * What the HTTP simulator does with one chat-completions request:
 * - `ok`: answer with simulateCompletion
 * - `hang`: never answer; the request stays open until the client gives up or the socket closes
 * - `malformed`: 200 with a JSON content type and a body that is not JSON
 * - `content_filter`: 200 whose choice stopped with finish_reason `content_filter` (scripted only)
 * - `{status}`: an OpenAI-shaped error with that status (429 gets a `retry-after` header)
 */
export type Fault =
  'ok' | 'hang' | 'malformed' | 'content_filter' | { status: number; retryAfterS?: number; retryAfterMs?: number; code?: string; message?: string };

export interface FaultOptions {
  /** Seed of the PRNG that draws random faults. */
  seed?: number;
  rate429?: number;
  /** `retry-after` (seconds) sent with random 429s. */
  retryAfterS?: number;
  rate500?: number;
  rateHang?: number;
  rateMalformed?: number;
  /**
   * Faults for the first chat-completions requests, in arrival order, before any random
   * fault: makes tests deterministic (e.g. `[{status: 429, retryAfterS: 1}, 'ok']`).
   */
  script?: Fault[];
}

/** Draws the fault of each request: the script first, then the seeded random rates. */
export class FaultPlan {
  private readonly random: () => number;
  private script: Fault[];

  constructor(private readonly options: FaultOptions = {}) {
    this.random = mulberry32(options.seed ?? 1);
    this.script = [...(options.script ?? [])];
    for (const [name, rate] of Object.entries({
      rate429: options.rate429,
      rate500: options.rate500,
      rateHang: options.rateHang,
      rateMalformed: options.rateMalformed,
    })) {
      if (rate !== undefined && !(rate >= 0 && rate <= 1)) throw new Error(`${name} must be between 0 and 1, got ${rate}`);
    }
    const total = (options.rate429 ?? 0) + (options.rate500 ?? 0) + (options.rateHang ?? 0) + (options.rateMalformed ?? 0);
    if (total > 1) throw new Error(`fault rates add up to ${total}; their sum must be at most 1`);
  }

  /** Replaces the remaining script (tests reuse one server across cases). */
  setScript(script: Fault[]): void {
    this.script = [...script];
  }

  next(): Fault {
    const scripted = this.script.shift();
    if (scripted !== undefined) return scripted;
    const o = this.options;
    let r = this.random();
    if ((r -= o.rate429 ?? 0) < 0) return { status: 429, retryAfterS: o.retryAfterS };
    if ((r -= o.rate500 ?? 0) < 0) return { status: 500 };
    if ((r -= o.rateHang ?? 0) < 0) return 'hang';
    if ((r -= o.rateMalformed ?? 0) < 0) return 'malformed';
    return 'ok';
  }
}
