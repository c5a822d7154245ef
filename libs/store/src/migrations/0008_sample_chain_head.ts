import { Kysely, Migration, sql } from 'kysely';

/**
 * The head of each sample's audit chain (seq and hash of its last event) kept on the sample row,
 * so that a checkpoint, which already writes that row, needs no separate lookup of the head and
 * the row lock is the chain lock. -1 and 64 zeros (GENESIS) mean an empty chain. The events stay
 * the record: the head is written in the same transaction as every sample-chain event.
 */
export const sampleChainHead: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('samples')
      .addColumn('audit_seq', 'integer', (c) => c.notNull().defaultTo(-1))
      .addColumn('audit_hash', 'text', (c) => c.notNull().defaultTo('0'.repeat(64)))
      .execute();
    await sql`
      update samples s set audit_seq = h.seq, audit_hash = h.hash
      from (select distinct on (sample_id) sample_id, seq, hash from audit_events
            where sample_id is not null and chain = 'sample:' || sample_id
            order by sample_id, seq desc) h
      where h.sample_id = s.id`.execute(db);
  },
};
