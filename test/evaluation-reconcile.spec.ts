import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { Client } from 'pg';
import { EvaluationSchema } from '@amend/contracts';
import { CONFIG, SAMPLES_QUEUE, missingJobs } from '@amend/runtime';
import { Store } from '@amend/store';
import { Reconciler } from '../apps/worker/src/reconciler';
import { deleteQueueKeys, json, pgForFile, stackForFile, testEnv, type Stack } from './support/stack';

/*
 * The reconciler and an evaluation's candidate run: a candidate sample is enqueued once its
 * baseline twin has finished (the worker does it then), so the reconciler re-enqueues only those,
 * and does not start a waiting loop for the others. No worker runs here: the test plays it.
 */
const env = testEnv('evaluation_reconcile');
let stack: Stack;
let pg: Client;
stackForFile(env, { workers: 0 }, (s) => (stack = s));
pgForFile(env, (c) => (pg = c));

it('re-enqueues a candidate sample only once its baseline twin has finished', async () => {
  const author = await stack.mintKey('author', 'policy');
  const res = await stack.fetch(
    '/v1/evaluations',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ baseline: 'amend-core@1.0.0', candidate: 'amend-core', prompts: ['a', 'b', 'c'] }),
    },
    author,
  );
  expect(res.status).toBe(202);
  const e = EvaluationSchema.parse(await json(res));
  const schema = `"${env.DATABASE_SCHEMA}"`;
  const ids = async (runId: string) =>
    (await pg.query(`select id from ${schema}.samples where run_id = $1 order by idx`, [runId])).rows.map((r) => r.id as string);
  const [baseline, candidate] = [await ids(e.baseline.run_id), await ids(e.candidate.run_id)];

  await deleteQueueKeys(env);
  const queue = stack.api.get<Queue>(getQueueToken(SAMPLES_QUEUE));
  const reconciler = new Reconciler(stack.api.get(Store), queue, stack.api.get(CONFIG));
  // Every baseline sample is pending: the baseline's 3 jobs come back, none of the candidate's.
  expect(await reconciler.reconcile()).toBe(3);
  expect(await missingJobs(queue, baseline)).toEqual([]);
  expect(await missingJobs(queue, candidate)).toEqual(candidate);

  // The second prompt's baseline sample fails: its candidate twin can go (to fail in turn).
  await pg.query(`update ${schema}.samples set status = 'failed', failure_reason = 'test' where id = $1`, [baseline[1]]);
  expect(await reconciler.reconcile()).toBe(1);
  expect(await missingJobs(queue, candidate)).toEqual([candidate[0], candidate[2]]);
});
