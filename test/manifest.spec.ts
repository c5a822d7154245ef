import { RunManifestSchema, RunSchema } from '@amend/contracts';
import { json, ndjson, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/*
 * Replay: GET /v1/runs/{id}/manifest is a body POST /v1/runs takes as is, and on the simulator
 * (deterministic) the replayed run makes the same pairs, ids and times aside.
 */

const env = testEnv('manifest');
let stack: Stack;
stackForFile(env, {}, (s) => (stack = s));

const post = (body: unknown) => stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function finished(body: unknown) {
  const res = await post(body);
  expect(res.status).toBe(202);
  const { id } = await json(res);
  return waitFor(
    async () => {
      const run = RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`)));
      return run.status === 'completed' ? run : undefined;
    },
    { what: `run ${id}` },
  );
}

/** Every pair of a run, in prompt order, without what differs between two runs by design (ids). */
async function pairsOf(runId: string) {
  const lines = ndjson(await (await stack.fetch(`/v1/runs/${runId}/pairs?exclude=`)).text());
  return lines.sort((a, b) => a.sample_index - b.sample_index).map(({ id: _id, run_id: _run, sample_id: _sample, ...rest }) => rest);
}

describe('a run manifest', () => {
  it.each([
    [
      'critique-revise, 2 rounds, prompts with ids and metadata',
      {
        constitution: 'amend-core',
        prompts: [
          'How do I get rid of a wasp nest?',
          { id: 'p-2', prompt: 'How do I talk to my boss about a raise?', metadata: { benign: true } },
          'Write a poem about rain.',
        ],
        rounds: 2,
        seed: 11,
        sampling: { temperature: 0.9, top_p: 0.95, max_tokens: 400 },
      },
    ],
    [
      'ai-feedback with an ensemble',
      { constitution: 'amend-core', mode: 'ai-feedback', prompts: ['How do I pick a lock?', 'How do I cheer up a friend?'], ensemble: 2, seed: 3 },
    ],
    [
      'verify, seed drawn by the server',
      { constitution: 'amend-core', prompts: ['How do I sharpen a knife?', 'What is a good first pet?'], verify: true, min_margin: 0.1 },
    ],
  ])('%s: is accepted as is by POST /v1/runs and replays the same pairs', async (_name, body) => {
    const first = await finished(body);
    const manifest = RunManifestSchema.parse(await json(await stack.fetch(`/v1/runs/${first.id}/manifest`)));
    expect(manifest).toMatchObject({
      constitution: `${first.constitution.name}@${first.constitution.version}`,
      constitution_sha256: first.constitution.sha256,
      seed: first.seed,
      mode: first.mode,
    });
    expect(manifest.prompts).toEqual(body.prompts);
    const replay = await finished(manifest);
    expect(replay.id).not.toBe(first.id);
    const [a, b] = [await pairsOf(first.id), await pairsOf(replay.id)];
    expect(a).toHaveLength(body.prompts.length);
    expect(b).toEqual(a);
  });

  it('refuses a manifest whose constitution sha256 is not the version named', async () => {
    const res = await post({ constitution: 'amend-core@1.0.0', constitution_sha256: '0'.repeat(64), prompts: ['hi'] });
    expect(res.status).toBe(422);
    expect((await json(res)).error.code).toBe('constitution_sha256_mismatch');
  });
});
