import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { eventHash, verifyBundle } from '@amend/audit';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import {
  AuditEventPageSchema,
  isRunFinished,
  RunSchema,
  RunVerifySchema,
  SampleAuditSchema,
  SampleSchema,
  VerifyReportSchema,
  type RunVerify,
} from '@amend/contracts';
import { json, ndjson, pgForFile, stackForFile, testEnv, waitFor, type Stack } from './support/stack';
import { amendCli } from './support/capture';

const env = testEnv('audit', {
  AMEND_MODELS: JSON.stringify({ default: { simulator: true }, slow: { simulator: true, latency_ms: 1500 } }),
});
let stack: Stack;
let pg: Client;
let auditor: string;
let runId: string;
const dir = mkdtempSync(join(tmpdir(), 'amend-audit-'));

interface Row {
  id: string;
  event_id: string;
  chain: string;
  seq: number;
  type: string;
  prev_hash: string;
  hash: string;
}

async function verify(id = runId): Promise<RunVerify> {
  const res = await stack.fetch(`/v1/runs/${id}/audit/verify`, {}, auditor);
  expect(res.status).toBe(200);
  return RunVerifySchema.parse(await json(res));
}

/** As a superuser with triggers off for this transaction only: what an attacker with the database could do. */
async function tamper(statements: string | string[], params: unknown[][] = []): Promise<void> {
  await pg.query('begin');
  try {
    await pg.query('set local session_replication_role = replica');
    const list = Array.isArray(statements) ? statements : [statements];
    for (let i = 0; i < list.length; i++) await pg.query(list[i], params[i] ?? []);
    await pg.query('commit');
  } catch (e) {
    await pg.query('rollback');
    throw e;
  }
}

async function restore(): Promise<void> {
  await tamper(['delete from audit_events', 'insert into audit_events select * from audit_snapshot']);
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

async function rows(id = runId): Promise<Row[]> {
  return (
    await pg.query(`select id::text, event_id, chain, seq, type, prev_hash, hash from audit_events where run_id = $1 order by chain, audit_events.id`, [id])
  ).rows;
}

async function finishedRun(body: Record<string, unknown>): Promise<string> {
  const res = await stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(202);
  const { id } = await json(res);
  await waitFor(async () => isRunFinished(RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`))).status), { what: `run ${id}` });
  return id;
}

const amend = (key: string, ...argv: string[]) => amendCli(stack, key, argv, { cwd: dir });

stackForFile(env, {}, (s) => (stack = s));
pgForFile(env, (c) => (pg = c), { searchPath: true });
beforeAll(async () => {
  auditor = await stack.mintKey('auditor', 'audit');
  // Row ids two apart leave a free id between any two events, where the insertion test puts its forgery.
  await pg.query('alter sequence audit_events_id_seq increment by 2');
  runId = await finishedRun({
    constitution: 'amend-core',
    prompts: Array.from({ length: 8 }, (_, i) => `Question ${i}: how do I fix a squeaky door?`),
    rounds: 2,
    seed: 11,
  });
  await pg.query('create table audit_snapshot as select * from audit_events');
});

describe('the audit trail of a finished run', () => {
  it('chains every event and seals the run with the Merkle root of its chain heads', async () => {
    const report = await verify();
    expect(report).toMatchObject({ ok: true, run_status: 'completed', sealed: true, seals: 1, events: 8 * 6 + 2, chains: 9, first_failure: null });
    expect(report.root).toMatch(/^[0-9a-f]{64}$/);
    expect(report.computed_root).toBe(report.root);
  });

  it('gives the critique log of one sample in order, every model call with its request and response', async () => {
    const sampleId = (await rows()).find((r) => r.chain.startsWith('sample:'))!.chain.slice('sample:'.length);
    const log = SampleAuditSchema.parse(await json(await stack.fetch(`/v1/samples/${sampleId}/audit`, {}, auditor)));
    expect(log.events.map((e) => e.type)).toEqual([
      'draft.generated',
      'critique.generated',
      'revision.generated',
      'critique.generated',
      'revision.generated',
      'pair.emitted',
    ]);
    expect(log.events.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(log.chain.ok).toBe(true);
    const critique = log.events[1].payload as any;
    expect(critique).toMatchObject({
      principle_id: expect.any(String),
      constitution: { name: 'amend-core' },
      model: expect.any(String),
      usage: expect.any(Object),
    });
    // The response body is named by hash (so an erasure can remove it) and read beside the event.
    expect(critique.response).toBeUndefined();
    expect(log.events[1].response).toMatchObject({ choices: [expect.objectContaining({ message: expect.any(Object) })] });
    expect(critique.response_sha256).toBe(sha256(canonicalize(log.events[1].response)!));
    // The payload names the messages by hash; the event carries them, exactly as the stage record has them.
    const sample = SampleSchema.parse(await json(await stack.fetch(`/v1/samples/${sampleId}`, {}, auditor)));
    const sent = log.events[1].messages!;
    expect(sent).toEqual(sample.stages[1].messages);
    expect(sent.length).toBeGreaterThan(2);
    // Recomputed here with the RFC 8785 package and node's sha256: the first name covers the
    // constitution's few-shot prefix as one array, every other name one message.
    const refs = critique.request.messages_sha256 as string[];
    const k = sent.length - (refs.length - 1);
    expect(k).toBeGreaterThan(1);
    expect(refs).toEqual([sha256(canonicalize(sent.slice(0, k))!), ...sent.slice(k).map((m) => sha256(canonicalize(m)!))]);
    // Every call of every sample names the same prefix blob: stored once.
    expect(new Set(log.events.slice(0, 5).map((e) => (e.payload as any).request.messages_sha256[0])).size).toBe(1);
    // pair.emitted names the pair row by the hash of its canonical JSON.
    const pairRecord = (await pg.query('select record from pairs where sample_id = $1', [sampleId])).rows[0].record;
    expect((log.events[5].payload as any).pair_sha256).toBe(sha256(canonicalize(pairRecord)!));
  });

  it('a blob whose stored text was changed: content changed, naming the event that sent it', async () => {
    const target = (await rows()).find((r) => r.type === 'critique.generated')!;
    const payload = (await pg.query('select payload from audit_events where id = $1', [target.id])).rows[0].payload;
    const last = payload.request.messages_sha256.at(-1);
    const original = (await pg.query('select content from content_blobs where sha256 = $1', [last])).rows[0].content;
    // Blobs are append-only too (migration 0016): the edit is made with triggers off.
    await tamper(`update content_blobs set content = jsonb_set(content, '{content}', '"Say something else."') where sha256 = $1`, [[last]]);
    try {
      const r = await verify();
      expect(r.ok).toBe(false);
      // The server re-hashes each blob once, in its row verification, and names the blob there.
      expect(r.rows?.failures).toEqual([expect.objectContaining({ table: 'content_blobs', key: last, field: 'content' })]);
      expect(r.rows?.failures[0].message).toContain(last);
    } finally {
      await tamper('update content_blobs set content = $2 where sha256 = $1', [[last, JSON.stringify(original)]]);
    }
    expect((await verify()).ok).toBe(true);
  });

  it("pages every team's events by run, type and time", async () => {
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const first = AuditEventPageSchema.parse(
      await json(await stack.fetch(`/v1/audit/events?run=${runId}&type=critique.generated&since=${since}&limit=10`, {}, auditor)),
    );
    expect(first.events).toHaveLength(10);
    expect(first.events.every((e) => e.type === 'critique.generated' && e.run_id === runId)).toBe(true);
    const second = AuditEventPageSchema.parse(
      await json(await stack.fetch(`/v1/audit/events?run=${runId}&type=critique.generated&cursor=${first.next_cursor}`, {}, auditor)),
    );
    expect(second.events).toHaveLength(6);
    expect(second.next_cursor).toBeNull();
    const future = AuditEventPageSchema.parse(
      await json(await stack.fetch(`/v1/audit/events?since=${new Date(Date.now() + 60_000).toISOString()}`, {}, auditor)),
    );
    expect(future.events).toHaveLength(0);
  });

  it('chains constitution and key events globally, and that chain verifies', async () => {
    const report = VerifyReportSchema.parse(await json(await stack.fetch('/v1/audit/verify', {}, auditor)));
    expect(report.ok).toBe(true);
    const types = AuditEventPageSchema.parse(await json(await stack.fetch('/v1/audit/events?limit=1000', {}, auditor)))
      .events.filter((e) => e.chain === 'global')
      .map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['constitution.published', 'key.created']));
  });
});

describe('the database', () => {
  it('refuses UPDATE, DELETE and TRUNCATE on audit rows, even from a superuser, while the trigger is on', async () => {
    const one = (await pg.query('select min(id) as id from audit_events')).rows[0].id;
    for (const statement of [
      'update audit_events set actor = $1 where id = $2',
      'delete from audit_events where id = $2 or actor = $1',
      'truncate audit_events',
    ]) {
      await expect(pg.query(statement, statement.includes('$1') ? ['x', one] : [])).rejects.toThrow(/append-only/);
    }
    expect(Number((await pg.query('select count(*) from audit_events where run_id = $1', [runId])).rows[0].count)).toBe(50);
  });
});

describe('tampering made directly in Postgres', () => {
  afterEach(restore);

  const sampleChain = async () => {
    const all = await rows();
    const chain = all.find((r) => r.chain.startsWith('sample:'))!.chain;
    return all.filter((r) => r.chain === chain);
  };

  it('an edited payload: content changed, naming the event', async () => {
    const target = (await sampleChain())[1];
    await tamper(`update audit_events set payload = jsonb_set(payload, '{response}', '"I changed my mind."') where id = $1`, [[target.id]]);
    const r = await verify();
    expect(r.ok).toBe(false);
    expect(r.first_failure).toMatchObject({ reason: 'content_changed', event_id: target.event_id, seq: 1, type: 'critique.generated' });
    expect(r.failures_total).toBe(1);
  });

  it('a deleted event: missing, at its place in its chain', async () => {
    const chain = await sampleChain();
    await tamper('delete from audit_events where id = $1', [[chain[2].id]]);
    const r = await verify();
    expect(r.first_failure).toMatchObject({ reason: 'missing', chain: chain[2].chain, seq: 2, event_id: chain[3].event_id });
  });

  it('the last event of a sample deleted: missing, found through the seal', async () => {
    const chain = await sampleChain();
    await tamper('delete from audit_events where id = $1', [[chain[5].id]]);
    expect((await verify()).first_failure).toMatchObject({ reason: 'missing', chain: chain[5].chain, seq: 5 });
  });

  it('two events swapped: reordered, naming the one stored too early', async () => {
    const chain = await sampleChain();
    const [a, b] = [chain[1], chain[2]];
    await tamper(
      ['update audit_events set id = -1 where id = $1', 'update audit_events set id = $1 where id = $2', 'update audit_events set id = $1 where id = -1'],
      [[a.id], [a.id, b.id], [b.id]],
    );
    const r = await verify();
    expect(r.first_failure).toMatchObject({ reason: 'reordered', event_id: b.event_id });
    expect(r.failures_total).toBe(1);
  });

  it('one event inserted, even with a correct hash of its own: inserted, naming it', async () => {
    // An attacker's event between two events of one chain: linked to the first, hashed properly.
    const all = await rows();
    const ids = new Set(all.map((r) => Number(r.id)));
    const chains = [...new Set(all.map((r) => r.chain))].filter((c) => c.startsWith('sample:'));
    let slot: { before: Row; id: number } | undefined;
    for (const c of chains) {
      const rs = all.filter((r) => r.chain === c);
      for (let i = 0; i + 1 < rs.length && !slot; i++) {
        for (let id = Number(rs[i].id) + 1; id < Number(rs[i + 1].id); id++) if (!ids.has(id)) slot = { before: rs[i], id };
      }
      if (slot) break;
    }
    if (!slot) throw new Error('no free row id between two events of a chain');
    const source = (await pg.query('select * from audit_events where id = $1', [slot.before.id])).rows[0];
    const forged = {
      event_id: randomUUID(),
      chain: source.chain,
      seq: source.seq + 1000,
      run_id: source.run_id,
      sample_id: source.sample_id,
      type: 'critique.generated',
      actor: source.actor,
      at: new Date(source.at.getTime() + 1).toISOString(),
      payload: { response: 'This response is perfectly harmless.' },
    };
    const hash = eventHash(slot.before.hash, forged);
    await tamper(
      `insert into audit_events (id, event_id, chain, seq, run_id, sample_id, type, actor, at, payload, prev_hash, hash)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        [
          slot.id,
          forged.event_id,
          forged.chain,
          forged.seq,
          forged.run_id,
          forged.sample_id,
          forged.type,
          forged.actor,
          forged.at,
          JSON.stringify(forged.payload),
          slot.before.hash,
          hash,
        ],
      ],
    );
    const r = await verify();
    expect(r.first_failure).toMatchObject({ reason: 'inserted', event_id: forged.event_id });
    expect(r.failures_total).toBe(1);
  });

  it('an edited seal: content changed, naming the seal, whether or not its hash was recomputed', async () => {
    const seal = (await rows()).find((r) => r.type === 'run.sealed')!;
    await tamper(`update audit_events set payload = jsonb_set(payload, '{root}', to_jsonb(repeat('a', 64))) where id = $1`, [[seal.id]]);
    expect((await verify()).first_failure).toMatchObject({ reason: 'content_changed', event_id: seal.event_id, type: 'run.sealed' });

    // A careful attacker recomputes the seal's hash too: its root no longer matches its leaves.
    const edited = (await pg.query('select * from audit_events where id = $1', [seal.id])).rows[0];
    const rehash = eventHash(edited.prev_hash, { ...edited, at: edited.at.toISOString() });
    await tamper('update audit_events set hash = $1 where id = $2', [[rehash, seal.id]]);
    expect((await verify()).first_failure).toMatchObject({ reason: 'content_changed', event_id: seal.event_id });
  });

  it('a deleted seal: the finished run reports its seal missing', async () => {
    const seal = (await rows()).find((r) => r.type === 'run.sealed')!;
    await tamper('delete from audit_events where id = $1', [[seal.id]]);
    expect((await verify()).first_failure).toMatchObject({ reason: 'missing', type: 'run.sealed' });
  });

  it('catches every one of 200 random single-row mutations', async () => {
    const all = await rows();
    const sampleIds = [...new Set(all.map((r) => r.chain))].filter((c) => c.startsWith('sample:')).map((c) => c.slice(7));
    let seed = 20250101;
    const rnd = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const edits: [string, (r: Row) => [string, unknown[]]][] = [
      ['payload', (r) => [`update audit_events set payload = payload || '{"tampered": true}' where id = $1`, [r.id]]],
      ['type', (r) => [`update audit_events set type = type || '.x' where id = $1`, [r.id]]],
      ['actor', (r) => [`update audit_events set actor = 'worker:elsewhere' where id = $1`, [r.id]]],
      ['at', (r) => [`update audit_events set at = at + interval '1 millisecond' where id = $1`, [r.id]]],
      ['seq', (r) => [`update audit_events set seq = seq + 1000 where id = $1`, [r.id]]],
      ['prev_hash', (r) => [`update audit_events set prev_hash = md5(prev_hash) || md5(hash) where id = $1`, [r.id]]],
      ['hash', (r) => [`update audit_events set hash = md5(hash) || md5(prev_hash) where id = $1`, [r.id]]],
      ['chain', (r) => [`update audit_events set chain = chain || '#' where id = $1`, [r.id]]],
      ['event_id', (r) => [`update audit_events set event_id = $2 where id = $1`, [r.id, randomUUID()]]],
      ['run_id', (r) => [`update audit_events set run_id = null where id = $1`, [r.id]]],
      ['sample_id', (r) => [`update audit_events set sample_id = $2 where id = $1`, [r.id, sampleIds[rnd(sampleIds.length)]]]],
    ];
    const tally: Record<string, { tried: number; caught: number }> = {};
    const reasons: Record<string, number> = {};
    const missed: string[] = [];
    for (let trial = 0; trial < 200; trial++) {
      const target = all[rnd(all.length)];
      const kind = ['edit', 'delete', 'swap', 'insert'][rnd(4)];
      let label = kind;
      if (kind === 'edit') {
        const [field, make] = edits[rnd(edits.length)];
        label = `edit ${field}`;
        const [sql, params] = make(target);
        await tamper(sql, [params]);
      } else if (kind === 'delete') {
        await tamper('delete from audit_events where id = $1', [[target.id]]);
      } else if (kind === 'swap') {
        const mates = all.filter((r) => r.chain === target.chain && r.id !== target.id);
        if (mates.length === 0) {
          trial--;
          continue;
        }
        const other = mates[rnd(mates.length)];
        await tamper(
          ['update audit_events set id = -1 where id = $1', 'update audit_events set id = $1 where id = $2', 'update audit_events set id = $1 where id = -1'],
          [[target.id], [target.id, other.id], [other.id]],
        );
      } else {
        await tamper(
          `insert into audit_events (event_id, chain, seq, run_id, sample_id, type, actor, at, payload, prev_hash, hash)
           select $2, chain, seq + 500, run_id, sample_id, type, actor, at, payload, prev_hash, hash from audit_events where id = $1`,
          [[target.id, randomUUID()]],
        );
      }
      const r = await verify();
      tally[label] ??= { tried: 0, caught: 0 };
      tally[label].tried++;
      if (!r.ok) {
        tally[label].caught++;
        reasons[r.first_failure!.reason] = (reasons[r.first_failure!.reason] ?? 0) + 1;
      } else missed.push(`${trial}: ${label} of ${target.type} (seq ${target.seq})`);
      await restore();
    }
    const tried = Object.values(tally).reduce((n, t) => n + t.tried, 0);
    const caught = Object.values(tally).reduce((n, t) => n + t.caught, 0);
    console.log(
      `random single-row mutations: ${tried} tried, ${caught} caught; by kind ${JSON.stringify(tally)}; first failure reasons ${JSON.stringify(reasons)}`,
    );
    expect(missed).toEqual([]);
    expect(caught).toBe(200);
    // 200 verifications of the whole run: well under the default limit alone, past it on a machine shared with other work.
  }, 360_000);
});

describe('an exported bundle and the CLI', () => {
  let bundlePath: string;

  it('amend audit export writes a bundle that amend audit verify --file checks offline', async () => {
    bundlePath = join(dir, 'bundle.jsonl');
    const exported = await amend(auditor, 'audit', 'export', runId, '--out', bundlePath);
    expect(exported.code).toBe(0);
    const lines = ndjson(readFileSync(bundlePath, 'utf8'));
    expect(lines[0]).toMatchObject({ kind: 'amend.audit.bundle', run_id: runId, run_status: 'completed' });
    expect(lines[lines.length - 1]).toMatchObject({ kind: 'amend.audit.end', events: 50 });
    const offline = await amend('', 'audit', 'verify', '--file', bundlePath);
    expect(offline.out).toContain('intact');
    expect(offline.code).toBe(0);
    expect(await verifyBundle(readFileSync(bundlePath, 'utf8').split('\n'))).toMatchObject({ ok: true, root: (await verify()).root });
  });

  it('amend audit verify --file names an edited line and exits 2', async () => {
    const text = readFileSync(bundlePath, 'utf8').split('\n');
    const k = text.findIndex((l) => l.includes('"revision.generated"'));
    const line = JSON.parse(text[k]);
    line.payload.response = 'edited in the file';
    text[k] = JSON.stringify(line);
    const edited = join(dir, 'edited.jsonl');
    writeFileSync(edited, text.join('\n'));
    const result = await amend('', 'audit', 'verify', '--file', edited);
    expect(result.code).toBe(2);
    expect(result.out).toContain('NOT intact');
    expect(result.out).toContain(line.event_id);
    expect(result.out).toContain('content changed');
  });

  it('amend audit verify RUN asks the server, and exits 2 once the database was tampered with', async () => {
    const ok = await amend(auditor, 'audit', 'verify', runId);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`run ${runId} (completed): intact`);
    const target = (await rows())[3];
    await tamper('delete from audit_events where id = $1', [[target.id]]);
    try {
      const bad = await amend(auditor, 'audit', 'verify', runId, '--json');
      expect(bad.code).toBe(2);
      expect(JSON.parse(bad.out).first_failure.reason).toBe('missing');
    } finally {
      await restore();
    }
    const submitter = await amend(stack.submitterKey, 'audit', 'verify', runId);
    expect(submitter.code).toBe(1);
    expect(submitter.err).toContain('forbidden');
  });
});

describe('runs that change after they finish', () => {
  it('a review after the run finished re-seals it, and the trail still verifies', async () => {
    const pair = (await pg.query('select id from pairs where run_id = $1 limit 1', [runId])).rows[0].id;
    const res = await stack.fetch(`/v1/pairs/${pair}/review`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'accept', reason: 'fine' }),
    });
    expect(res.status).toBe(201);
    const r = await verify();
    expect(r).toMatchObject({ ok: true, seals: 2 });
    await pg.query('drop table audit_snapshot');
    await pg.query('create table audit_snapshot as select * from audit_events');
  });

  it('a run cancelled with samples in flight is sealed, and re-sealed by the stages that finish after', async () => {
    const res = await stack.fetch('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ constitution: 'amend-core', prompts: ['one', 'two', 'three'], model: 'slow', rounds: 3 }),
    });
    const { id } = await json(res);
    await waitFor(async () => (await pg.query(`select 1 from audit_events where run_id = $1 and type = 'draft.generated'`, [id])).rowCount! > 0, {
      what: 'a first draft',
    });
    expect((await stack.fetch(`/v1/runs/${id}/cancel`, { method: 'POST' })).status).toBe(200);
    // Stages in flight at the cancel finish and are recorded; wait until nothing more arrives.
    let last = -1;
    await waitFor(
      async () => {
        const n = Number((await pg.query('select count(*) from audit_events where run_id = $1', [id])).rows[0].count);
        const settled = n === last;
        last = n;
        return settled;
      },
      { intervalMs: 2_000, what: 'the cancelled run to settle' },
    );
    const r = await verify(id);
    expect(r).toMatchObject({ ok: true, run_status: 'cancelled', sealed: true });
    expect(r.seals).toBeGreaterThanOrEqual(1);
  });
});
