import type { StageName } from '@amend/contracts';
import type { ChatRequest } from './ports';

// Its own file so that plan.ts and feedback/schedule.ts, which both build calls, need not import each other.

/** One model call the worker should make next, and where its output belongs. */
export interface PlannedCall {
  seq: number;
  stage: StageName;
  /** 0 for the draft, 1..rounds for critique and revision; candidate number; ensemble draw of a comparison. */
  round: number;
  principle_id: string | null;
  request: ChatRequest;
  /**
   * Comparisons: what (A) and (B) are, and whether the model reasons first (the label is read
   * differently); `judge: 'ratings'` when the answer is the ratings judge's JSON; `panel_judge`,
   * the alias asked, on a run with a panel of judges (kept on the label).
   */
  comparison?: { options: [string, string]; cot: boolean; judge?: 'ratings'; panel_judge?: string };
}
