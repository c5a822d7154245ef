import { limitsOf, parseModelsConfig, pricesOf } from './models-config';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('parseModelsConfig', () => {
  it.each([undefined, '', '   '])('makes "default" the built-in simulator when AMEND_MODELS is %p', (value) => {
    expect(parseModelsConfig(value)).toEqual({ default: { simulator: true } });
  });

  it('reads simulator and OpenAI-compatible aliases with their options', () => {
    const config = parseModelsConfig(
      JSON.stringify({
        default: { base_url: 'https://api.openai.com/v1', model: 'gpt-4o-mini', api_key_env: 'OPENAI_API_KEY', timeout_ms: 30000, max_attempts: 5 },
        local: { base_url: 'http://127.0.0.1:8000/v1', model: 'meta-llama/Llama-3.1-8B-Instruct' },
        demo: { simulator: true, latency_ms: 200 },
      }),
    );
    expect(config.default).toEqual({
      base_url: 'https://api.openai.com/v1',
      model: 'gpt-4o-mini',
      api_key_env: 'OPENAI_API_KEY',
      timeout_ms: 30000,
      max_attempts: 5,
    });
    expect(config.local).toEqual({ base_url: 'http://127.0.0.1:8000/v1', model: 'meta-llama/Llama-3.1-8B-Instruct' });
    expect(config.demo).toEqual({ simulator: true, latency_ms: 200 });
  });

  it('reads shared limits and prices per alias, and refuses a limit that is not a positive integer', () => {
    const config = parseModelsConfig(
      JSON.stringify({
        gpt: {
          base_url: 'https://api.openai.com/v1',
          model: 'gpt-4o-mini',
          rpm: 500,
          tpm: 200_000,
          max_in_flight: 64,
          price_per_1k_prompt: 0.15,
          price_per_1k_completion: 0.6,
        },
        sim: { simulator: true, price_per_1k_prompt: 0.01 },
      }),
    );
    expect(limitsOf(config.gpt)).toEqual({ rpm: 500, tpm: 200_000, max_in_flight: 64 });
    expect(pricesOf(config.gpt)).toEqual({ prompt: 0.15, completion: 0.6 });
    expect(limitsOf(config.sim)).toBeUndefined();
    expect(pricesOf(config.sim)).toEqual({ prompt: 0.01, completion: 0 });
    const text = message(() => parseModelsConfig(JSON.stringify({ gpt: { base_url: 'https://api.openai.com/v1', model: 'm', rpm: 0, max_in_flight: 1.5 } })));
    expect(text).toContain('alias "gpt", field rpm');
    expect(text).toContain('alias "gpt", field max_in_flight');
  });

  it('says where bad JSON breaks, without quoting it', () => {
    const text = message(() => parseModelsConfig('{"default": {"model": sk-live-abc123}}'));
    expect(text).toMatch(/^AMEND_MODELS is not valid JSON/);
    expect(text).not.toContain('sk-live-abc123');
  });

  it('names the alias and the field when base_url is missing', () => {
    const text = message(() => parseModelsConfig(JSON.stringify({ gpt: { model: 'gpt-4o-mini' } })));
    expect(text).toContain('alias "gpt", field base_url: is required');
  });

  it('names the alias and the field when model is missing or base_url is not a URL', () => {
    const text = message(() => parseModelsConfig(JSON.stringify({ local: { base_url: 'localhost:8000' } })));
    expect(text).toContain('alias "local", field base_url: must be an http(s) URL');
    expect(text).toContain('alias "local", field model: is required');
  });

  it('never echoes a key pasted into the configuration', () => {
    const secret = 'sk-proj-9a8b7c6d5e4f3a2b1c0d';
    for (const bad of [
      { gpt: { base_url: 'https://api.openai.com/v1', model: 'gpt-4o', api_key: secret } },
      { gpt: { base_url: 'https://api.openai.com/v1', model: 'gpt-4o', api_key_env: secret } },
      { gpt: { base_url: `https://user:${secret}@api.example.com/v1`, model: 'gpt-4o' } },
      { gpt: { base_url: 'https://api.openai.com/v1', model: 'gpt-4o', timeout_ms: secret } },
    ]) {
      const text = message(() => parseModelsConfig(JSON.stringify(bad)));
      expect(text).toContain('alias "gpt"');
      expect(text).not.toContain(secret);
    }
  });

  it('points a pasted key to api_key_env', () => {
    const text = message(() => parseModelsConfig(JSON.stringify({ gpt: { base_url: 'https://x.test/v1', model: 'm', api_key: 'k' } })));
    expect(text).toContain('unknown field "api_key"; keys go in an environment variable named by api_key_env');
  });

  it('rejects an empty object, an array, and an alias the REST API could not name', () => {
    expect(message(() => parseModelsConfig('{}'))).toContain('configures no model');
    expect(message(() => parseModelsConfig('[]'))).toContain('must be a JSON object');
    expect(message(() => parseModelsConfig(JSON.stringify({ 'bad alias!': { simulator: true } })))).toContain('alias "bad alias!"');
  });

  it('rejects a simulator entry that is not exactly {simulator: true}', () => {
    expect(message(() => parseModelsConfig(JSON.stringify({ sim: { simulator: false } })))).toContain('alias "sim", field simulator');
  });
});
