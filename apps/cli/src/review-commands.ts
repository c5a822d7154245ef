import { Command, Option } from 'commander';
import type { Agreement, QueuedPair, ReviewProgress } from '@amend/contracts';
import { parseInteger } from './arg-parsers';
import type { AuditCommandsContext } from './audit-commands';

const fixed = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));

/**
 * `amend review ...`: review by several reviewers from the CLI (docs/ml-teams.md#review-by-several-reviewers):
 * take the next pair, see progress and agreement, set a run's policy. Reviews themselves are sent
 * as for any pair (POST /v1/pairs/{id}/review), or in the console.
 */
export function addReviewCommands(program: Command, ctx: AuditCommandsContext): void {
  const review = program.command('review').description("a run's review queue, its progress, its reviewers' agreement and its review policy");

  review
    .command('next')
    .description('take the next pair for this key to review (leased to it for AMEND_REVIEW_LEASE_MS); says so when none is left')
    .argument('<run>', 'run id')
    .option('--json', 'print the pair and its lease as JSON')
    .action(async (runId: string, opts: { json?: boolean }, cmd: Command) => {
      const next = await ctx.client(cmd).nextToReview(runId);
      if (!next) return ctx.out(opts.json ? 'null' : 'nothing left to review for this key in this run');
      ctx.out(opts.json ? JSON.stringify(next, null, 2) : renderQueued(next));
    });

  review
    .command('progress')
    .description("how far a run's reviews are, and each reviewer's share")
    .argument('<run>', 'run id')
    .option('--json', 'print the progress as JSON')
    .action(async (runId: string, opts: { json?: boolean }, cmd: Command) => {
      const p = await ctx.client(cmd).reviewProgress(runId);
      ctx.out(opts.json ? JSON.stringify(p, null, 2) : renderProgress(p));
    });

  review
    .command('agreement')
    .description("agreement between a run's reviewers: Krippendorff's alpha, Cohen's kappa, raw and judge agreement, disagreements")
    .argument('<run>', 'run id')
    .option('--json', 'print the figures as JSON')
    .action(async (runId: string, opts: { json?: boolean }, cmd: Command) => {
      const a = await ctx.client(cmd).agreement(runId);
      ctx.out(opts.json ? JSON.stringify(a, null, 2) : renderAgreement(a));
    });

  review
    .command('policy')
    .description('set how many different keys review each pair of a run (submitters of its team)')
    .argument('<run>', 'run id')
    .addOption(new Option('--per-pair <n>', 'reviews each pair needs, 1..100').argParser(parseInteger).makeOptionMandatory())
    .action(async (runId: string, opts: { perPair: number }, cmd: Command) => {
      const set = await ctx.client(cmd).setReviewPolicy(runId, opts.perPair);
      ctx.out(`run ${set.run_id}: ${set.per_pair} review(s) per pair (was ${set.previous_per_pair ?? 'not set'})`);
    });
}

export function renderQueued(q: QueuedPair): string {
  return [
    `pair ${q.pair.id} (sample ${q.pair.metadata.sample_index}), ${q.reviews} of ${q.per_pair} reviews; yours until ${q.lease.expires_at}`,
    `prompt:   ${q.pair.prompt}`,
    `chosen:   ${q.pair.chosen}`,
    `rejected: ${q.pair.rejected}`,
    `review it: POST /v1/pairs/${q.pair.id}/review {"decision": "accept|reject|swap|edit", "reason": "..."}`,
  ].join('\n');
}

export function renderProgress(p: ReviewProgress): string {
  const lines = [
    `${p.per_pair} review(s) per pair${p.policy_set ? '' : ' (no policy set)'}: ${p.complete}/${p.pairs} pairs complete, ${p.partial} partial, ${p.unreviewed} unreviewed`,
    `${p.reviews_done} reviews done, ${p.reviews_needed} still needed, ${p.leased} leased`,
  ];
  for (const r of p.reviewers) lines.push(`  ${r.reviewer.padEnd(40)} ${String(r.reviewed).padStart(6)} reviewed ${String(r.leased).padStart(4)} leased`);
  return lines.join('\n');
}

export function renderAgreement(a: Agreement): string {
  const lines = [
    `${a.reviews} reviews of ${a.reviewed_pairs} pairs (${a.pairable_pairs} with two or more), ${a.per_pair} per pair`,
    `Krippendorff's alpha ${fixed(a.krippendorff_alpha)} (nominal), raw agreement ${fixed(a.raw_agreement)}`,
  ];
  for (const k of a.cohen_kappa) lines.push(`  kappa ${k.a} / ${k.b}: ${fixed(k.kappa)} over ${k.pairs} pairs (raw ${fixed(k.agreement)})`);
  for (const r of a.reviewers) {
    const judge = r.judge ? `, with the judge ${fixed(r.judge.agreement)} over ${r.judge.compared}` : '';
    lines.push(`  ${r.reviewer}: ${r.reviews} reviews${judge}`);
  }
  lines.push(`${a.disagreements.length} pair(s) with disagreements`);
  for (const d of a.disagreements.slice(0, 20)) {
    lines.push(`  sample ${d.sample_index} (${d.tie ? 'tie' : `majority ${d.decision}`}): ${d.reviews.map((r) => `${r.reviewer} ${r.decision}`).join(', ')}`);
  }
  return lines.join('\n');
}
