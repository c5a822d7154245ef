import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatOfPath, parsePrompts, PromptsFileError, readPromptsFile, singleTurnPrompts } from './prompts-file';

function failure(fn: () => unknown): PromptsFileError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PromptsFileError) return err;
    throw err;
  }
  throw new Error('expected a PromptsFileError');
}

describe('prompts files', () => {
  describe('.jsonl', () => {
    it('takes objects and plain JSON strings, one a line, skipping blank lines', () => {
      const text = [
        '{"id": "a1", "prompt": "How do I pick a lock?", "metadata": {"source": "red-team"}}',
        '',
        '"What is the capital of France?"',
        '   ',
        '{"prompt": "Tell me a joke"}',
      ].join('\n');
      expect(parsePrompts(text, 'jsonl')).toEqual([
        { id: 'a1', prompt: 'How do I pick a lock?', metadata: { source: 'red-team' } },
        'What is the capital of France?',
        { prompt: 'Tell me a joke' },
      ]);
    });

    it('accepts CRLF line endings and a byte-order mark', () => {
      expect(parsePrompts('\ufeff"one"\r\n{"prompt":"two"}\r\n', 'jsonl')).toEqual(['one', { prompt: 'two' }]);
    });

    it('names the line of invalid JSON, counting blank lines', () => {
      const err = failure(() => parsePrompts('"ok"\n\n{"prompt": "unterminated\n', 'jsonl', 'p.jsonl'));
      expect(err.where.line).toBe(3);
      expect(err.message).toMatch(/^p\.jsonl:3: not valid JSON/);
    });

    it('names the line of a prompt that breaks the contract, with the reason', () => {
      const text = '{"prompt": "fine"}\n{"prompt": "   "}\n';
      const err = failure(() => parsePrompts(text, 'jsonl', 'p.jsonl'));
      expect(err.message).toBe('p.jsonl:2: prompt: prompt is empty');
    });

    it('says which field is missing or unknown', () => {
      expect(failure(() => parsePrompts('{"text": "hi"}', 'jsonl')).message).toMatch(
        /:1: the object has neither a "prompt" field nor a "messages" conversation/,
      );
      expect(failure(() => parsePrompts('"a"\n{"prompt": "hi", "tags": []}', 'jsonl')).message).toMatch(
        /:2: Unrecognized key: "tags" \(allowed: "id", "prompt" or "messages", "metadata"; a message has "role" and "content"\)/,
      );
      expect(failure(() => parsePrompts('{"prompt": "hi", "id": 5}', 'jsonl')).message).toMatch(/:1: id: .*expected string/);
    });

    it('rejects a line that is neither a string nor an object', () => {
      expect(failure(() => parsePrompts('"a"\n42', 'jsonl')).message).toMatch(/:2: expected a prompt string, an object .* got a number/);
      expect(failure(() => parsePrompts('["a"]', 'jsonl')).message).toMatch(/:1: .* got an array/);
    });

    it('takes multi-turn prompts as {"messages": [...]} and names the line and message of a bad one', () => {
      const conversation = [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: 'How do I stop a process?' },
      ];
      const text = [JSON.stringify({ id: 'c1', messages: conversation, metadata: { source: 'hh' } }), '"plain"'].join('\n');
      expect(parsePrompts(text, 'jsonl')).toEqual([{ id: 'c1', messages: conversation, metadata: { source: 'hh' } }, 'plain']);
      const bad =
        '"ok"\n' +
        JSON.stringify({
          messages: [
            { role: 'user', content: 'a' },
            { role: 'assistant', content: 'b' },
          ],
        });
      expect(failure(() => parsePrompts(bad, 'jsonl', 'p.jsonl')).message).toBe(
        'p.jsonl:2: messages.1: the conversation must end with a user turn (the one the draft answers), not with an assistant message',
      );
    });

    it('a command that takes single-turn prompts refuses a conversation by its position', () => {
      const items = parsePrompts('"a"\n{"messages": [{"role": "user", "content": "b"}]}', 'jsonl');
      expect(failure(() => singleTurnPrompts(items, 'p.jsonl', 'an evaluation')).message).toBe(
        'p.jsonl (item 2): an evaluation takes single-turn prompts; prompt 2 is a conversation ("messages")',
      );
      expect(singleTurnPrompts(['a', { id: 'x', prompt: 'b' }], 'p.jsonl', 'an evaluation')).toEqual(['a', { id: 'x', prompt: 'b' }]);
    });

    it('rejects an id used twice, naming both lines', () => {
      const text = '{"id": "x", "prompt": "a"}\n{"id": "y", "prompt": "b"}\n{"id": "x", "prompt": "c"}';
      const err = failure(() => parsePrompts(text, 'jsonl', 'p.jsonl'));
      expect(err.message).toBe('p.jsonl:3: id "x" is already used by line 1; ids must be unique within a run');
    });
  });

  describe('.json', () => {
    it('takes an array of strings and objects', () => {
      expect(parsePrompts('["a", {"id": "2", "prompt": "b"}]', 'json')).toEqual(['a', { id: '2', prompt: 'b' }]);
    });

    it('names the item (1-based) that breaks the contract', () => {
      const err = failure(() => parsePrompts('["a", "b", {"prompt": ""}]', 'json', 'p.json'));
      expect(err.where.item).toBe(3);
      expect(err.message).toBe('p.json (item 3): prompt: prompt is empty');
    });

    it('names the line of a syntax error', () => {
      const err = failure(() => parsePrompts('[\n  "a",\n  "b"\n  "c"\n]', 'json', 'p.json'));
      expect(err.where.line).toBe(4);
      expect(err.message).toMatch(/^p\.json:4: not valid JSON/);
    });

    it('rejects a document that is not an array', () => {
      expect(failure(() => parsePrompts('{"prompts": ["a"]}', 'json')).message).toMatch(/expected a JSON array of prompts, got an object/);
    });
  });

  describe('.txt', () => {
    it('takes one prompt a line, verbatim, skipping blank lines', () => {
      expect(parsePrompts('first prompt\n\n  indented {"not": "json"}\r\nlast', 'txt')).toEqual(['first prompt', '  indented {"not": "json"}', 'last']);
    });
  });

  it('refuses a file with no prompts', () => {
    expect(failure(() => parsePrompts('\n\n', 'txt', 'empty.txt')).message).toBe('empty.txt: contains no prompts');
    expect(failure(() => parsePrompts('[]', 'json', 'empty.json')).message).toBe('empty.json: contains no prompts');
  });

  it('picks the format from the extension and explains the choices for others', () => {
    expect(formatOfPath('a/b.JSONL')).toBe('jsonl');
    expect(formatOfPath('x.ndjson')).toBe('jsonl');
    expect(formatOfPath('x.json')).toBe('json');
    expect(formatOfPath('x.txt')).toBe('txt');
    expect(failure(() => formatOfPath('x.csv')).message).toMatch(/\.jsonl .*\.json .*\.txt/);
  });

  describe('reading from disk', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'amend-prompts-'));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('reads a file by its extension', async () => {
      const file = join(dir, 'p.txt');
      await writeFile(file, 'one\ntwo\n');
      await expect(readPromptsFile(file)).resolves.toEqual(['one', 'two']);
    });

    it('says when the file does not exist', async () => {
      await expect(readPromptsFile(join(dir, 'nope.jsonl'))).rejects.toThrow(/nope\.jsonl: no such file/);
    });
  });
});
