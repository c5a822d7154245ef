import { deleteQueueKeys, json, stackForFile, testEnv, waitFor, type Stack } from './support/stack';
import { createWorkerApp } from '../apps/worker/src/app';

const env = testEnv('reconcile');
let stack: Stack;

stackForFile(env, { workers: 0 }, (s) => (stack = s));

it('samples whose jobs Redis lost are enqueued again from Postgres and the run completes', async () => {
  const res = await stack.fetch('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ constitution: 'amend-core', prompts: Array.from({ length: 30 }, (_, i) => `Prompt ${i}`) }),
  });
  const runId = (await json(res)).id;
  // Redis keeps nothing on disk: a restart empties it. Do the same to this test's queue keys.
  await deleteQueueKeys(env);
  stack.workers.push(await createWorkerApp(stack.config));
  const run = await waitFor(
    async () => {
      const r = await json(await stack.fetch(`/v1/runs/${runId}`));
      return r.status === 'completed' ? r : undefined;
    },
    { timeoutMs: 60_000, what: 'the run to complete after its jobs were lost' },
  );
  expect(run.counts.completed).toBe(30);
});
