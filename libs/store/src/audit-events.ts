import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema';

/** One audit event as the application hands it to the store; hashing and chaining come later. */
export interface AuditEventInput {
  run_id: string | null;
  sample_id: string | null;
  type: string;
  actor: string;
  payload: unknown;
}

export async function insertAuditEvents(db: Kysely<Database> | Transaction<Database>, events: AuditEventInput[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('audit_events')
    .values(
      events.map((e) => ({
        event_id: randomUUID(),
        run_id: e.run_id,
        sample_id: e.sample_id,
        type: e.type,
        actor: e.actor,
        payload: JSON.stringify(e.payload),
        prev_hash: null,
        hash: null,
      })),
    )
    .execute();
}

export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  record(events: AuditEventInput[]): Promise<void> {
    return insertAuditEvents(this.db, events);
  }

  listForRun(runId: string, afterId = '0', limit = 500) {
    return this.db
      .selectFrom('audit_events')
      .selectAll()
      .where('run_id', '=', runId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  listForSample(sampleId: string) {
    return this.db.selectFrom('audit_events').selectAll().where('sample_id', '=', sampleId).orderBy('id').execute();
  }
}
