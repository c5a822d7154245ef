import type { ChatRequest } from '@amend/pipeline';
import { ModelError } from './errors';
import { ModelRegistry } from './model-registry';
import { parseModelsConfig } from './models-config';
import { OpenAICompatibleModel } from './openai-model';
import { SimulatorModel } from './simulator/simulator-model';
import { startSimulatorServer } from './simulator/server';

const req: ChatRequest = {
  alias: 'x',
  messages: [{ role: 'user', content: 'Suggest a name for a grey cat.' }],
  sampling: { temperature: 0.7, top_p: 1, max_tokens: 128 },
};

describe('ModelRegistry', () => {
  it('serves the default simulator when AMEND_MODELS is unset', async () => {
    const registry = new ModelRegistry(parseModelsConfig(undefined));
    expect(registry.aliases()).toEqual(['default']);
    expect(registry.isSimulator('default')).toBe(true);
    expect(registry.get('default')).toBeInstanceOf(SimulatorModel);
    expect((await registry.get('default').complete(req)).simulated).toBe(true);
  });

  it('throws a permanent unknown_model error that lists the configured aliases', () => {
    const registry = new ModelRegistry(parseModelsConfig(JSON.stringify({ a: { simulator: true }, b: { simulator: true } })));
    let err: unknown;
    try {
      registry.get('gpt-5');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelError);
    expect(err).toMatchObject({ kind: 'permanent', code: 'unknown_model' });
    expect((err as Error).message).toBe('unknown model alias "gpt-5"; configured aliases: a, b');
  });

  it('never falls back to the simulator for an alias configured as a real backend', async () => {
    // Nothing listens on port 9 (discard); the call must fail, not be answered by the simulator.
    const registry = new ModelRegistry(parseModelsConfig(JSON.stringify({ default: { base_url: 'http://127.0.0.1:9/v1', model: 'real' } })), {
      retry: { maxAttempts: 1 },
    });
    expect(registry.isSimulator('default')).toBe(false);
    expect(registry.get('default')).toBeInstanceOf(OpenAICompatibleModel);
    await expect(registry.get('default').complete(req)).rejects.toMatchObject({ kind: 'transient', code: 'connection_error' });
  });

  it('reads the key from the variable named by api_key_env, and describes aliases without it', async () => {
    const key = 'sk-registry-test-55aa66bb';
    const sim = await startSimulatorServer({ apiKey: key });
    try {
      const config = parseModelsConfig(
        JSON.stringify({
          remote: { base_url: sim.url, model: 'served', api_key_env: 'AMEND_TEST_KEY' },
          local: { simulator: true },
        }),
      );
      const registry = new ModelRegistry(config, { env: { AMEND_TEST_KEY: key } });
      const result = await registry.get('remote').complete(req);
      expect(result.simulated).toBe(true);
      expect(registry.describe()).toEqual({
        local: { kind: 'simulator' },
        remote: { kind: 'openai-compatible', model: 'served', base_url: sim.url },
      });
      expect(JSON.stringify(registry.describe())).not.toContain(key);
      expect(JSON.stringify(registry.describe())).not.toContain('AMEND_TEST_KEY');
    } finally {
      await sim.close();
    }
  });

  it('refuses to start when the key variable is missing, naming the variable and not a value', () => {
    const config = parseModelsConfig(JSON.stringify({ gpt: { base_url: 'https://api.openai.com/v1', model: 'gpt-4o', api_key_env: 'MISSING_KEY_VAR' } }));
    expect(() => new ModelRegistry(config, { env: {} })).toThrow(
      'AMEND_MODELS alias "gpt": environment variable MISSING_KEY_VAR (api_key_env) is not set or empty',
    );
  });
});
