import { sql, type Kysely } from 'kysely';
import type { Database } from './schema';
import { openDatabase, poolHealth, poolOf, type DbOptions, type PoolHealth } from './connect';
import { RunsRepository } from './runs.repository';
import { SamplesRepository } from './samples.repository';
import { PairsRepository } from './pairs.repository';
import { AuditRepository } from './audit-events';
import { ConstitutionsRepository } from './constitutions.repository';
import { DraftsRepository } from './drafts.repository';
import { KeysRepository } from './keys.repository';
import { ReviewsRepository } from './reviews.repository';
import { BudgetRepository } from './budget.repository';
import { BatchesRepository } from './batches.repository';
import { EvaluationsRepository } from './evaluations.repository';
import { JudgeLabelsRepository } from './judge-labels.repository';
import { ReportsRepository } from './reports.repository';
import { SuggestionsRepository } from './suggestions.repository';
import { ErasureRepository } from './erasure.repository';
import { ReviewQueueRepository } from './review-queue.repository';

/**
 * The repositories over one connection pool. Postgres is the source of truth. The database handle
 * stays in here: everything outside libs/store asks a repository (tests and benchmarks that fill
 * or inspect tables open their own connection with `createDb`, as an operator would).
 */
export class Store {
  readonly runs: RunsRepository;
  readonly samples: SamplesRepository;
  readonly pairs: PairsRepository;
  readonly audit: AuditRepository;
  readonly constitutions: ConstitutionsRepository;
  readonly drafts: DraftsRepository;
  readonly keys: KeysRepository;
  readonly reviews: ReviewsRepository;
  readonly budget: BudgetRepository;
  readonly batches: BatchesRepository;
  readonly evaluations: EvaluationsRepository;
  readonly judgeLabels: JudgeLabelsRepository;
  readonly reports: ReportsRepository;
  readonly erasure: ErasureRepository;
  readonly reviewQueue: ReviewQueueRepository;
  readonly suggestions: SuggestionsRepository;

  constructor(private readonly db: Kysely<Database>) {
    this.runs = new RunsRepository(db);
    this.samples = new SamplesRepository(db, poolOf(db));
    this.pairs = new PairsRepository(db, poolOf(db));
    this.audit = new AuditRepository(db);
    this.constitutions = new ConstitutionsRepository(db);
    this.drafts = new DraftsRepository(db);
    this.keys = new KeysRepository(db);
    this.reviews = new ReviewsRepository(db);
    this.budget = new BudgetRepository(db);
    this.batches = new BatchesRepository(db);
    this.evaluations = new EvaluationsRepository(db);
    this.judgeLabels = new JudgeLabelsRepository(db);
    this.reports = new ReportsRepository(db);
    this.erasure = new ErasureRepository(db);
    this.reviewQueue = new ReviewQueueRepository(db);
    this.suggestions = new SuggestionsRepository(db, this.audit);
  }

  static async open(opts: DbOptions): Promise<Store> {
    return new Store(await openDatabase(opts));
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  /** Connections, idle ones and queries waiting for one, now (for /ready and the metrics). */
  poolHealth(): PoolHealth {
    return poolHealth(this.db) ?? { total: 0, idle: 0, waiting: 0, oldestWaitMs: 0 };
  }

  /** The time limits a session of this pool works under, as Postgres reports them (SHOW). */
  async sessionLimits(): Promise<{ lock_timeout: string; statement_timeout: string; idle_in_transaction_session_timeout: string }> {
    const r = await sql<{ lock_timeout: string; statement_timeout: string; idle_in_transaction_session_timeout: string }>`
      select current_setting('lock_timeout') as lock_timeout, current_setting('statement_timeout') as statement_timeout,
        current_setting('idle_in_transaction_session_timeout') as idle_in_transaction_session_timeout`.execute(this.db);
    return r.rows[0];
  }

  close(): Promise<void> {
    return this.db.destroy();
  }
}
