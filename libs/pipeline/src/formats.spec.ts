import {
  ConversationalPairLineSchema,
  H4PairLineSchema,
  PAIR_FORMATS,
  SftLineSchema,
  StandardPairLineSchema,
} from '@amend/contracts';
import { formatPair, toSft } from './formats';
import { assemblePair } from './pair';
import { makeRun, makeSample, runToEnd } from './testing/fixtures';

const run = makeRun({ rounds: 2 });
const sample = makeSample({ prompt: 'Tell me a joke about "quotes"\nand newlines.' });
const pair = assemblePair(run, sample, runToEnd(run, sample).records, '5d1e8b7a-2c3f-4a6b-9d0e-1f2a3b4c5d6e');

/** Every line goes over the wire as JSON: check the parsed line, not the in-memory object. */
const roundTrip = (x: unknown) => JSON.parse(JSON.stringify(x));

describe('export formats', () => {
  it('conversational (TRL) has the prompt as a user message and one assistant message each for chosen and rejected', () => {
    const line = ConversationalPairLineSchema.parse(roundTrip(formatPair(pair, 'conversational')));
    expect(line.prompt).toEqual([{ role: 'user', content: sample.prompt }]);
    expect(line.chosen).toEqual([{ role: 'assistant', content: pair.chosen }]);
    expect(line.rejected).toEqual([{ role: 'assistant', content: pair.draft }]);
    expect(line).toMatchObject({ id: pair.id, run_id: run.id, reason: pair.reason, category: pair.category });
    expect(line.metadata).toEqual(pair.metadata);
  });

  it('standard (TRL) has plain strings', () => {
    const line = StandardPairLineSchema.parse(roundTrip(formatPair(pair, 'standard')));
    expect([line.prompt, line.chosen, line.rejected]).toEqual([sample.prompt, pair.chosen, pair.draft]);
  });

  it('h4 has the fields of cai-conversation-harmless, with critic and revision from the first round', () => {
    const line = H4PairLineSchema.parse(roundTrip(formatPair(pair, 'h4')));
    const [first] = pair.rounds;
    expect(line).toMatchObject({
      init_prompt: sample.prompt,
      init_response: pair.draft,
      critic_prompt: first.critique_request,
      critic_response: first.critique,
      revision_prompt: first.revision_request,
      revision_response: first.revision,
      prompt: sample.prompt,
    });
    const final = [
      { role: 'user', content: sample.prompt },
      { role: 'assistant', content: pair.chosen },
    ];
    expect(line.messages).toEqual(final);
    expect(line.chosen).toEqual(final);
    expect(line.rejected).toEqual([
      { role: 'user', content: sample.prompt },
      { role: 'assistant', content: pair.draft },
    ]);
    // With two rounds, the final answer is the second revision, not the first.
    expect(line.chosen[1].content).not.toBe(line.revision_response);
  });

  it('every format validates strictly against its contracts line schema', () => {
    const schemas = { conversational: ConversationalPairLineSchema, standard: StandardPairLineSchema, h4: H4PairLineSchema };
    for (const format of PAIR_FORMATS) {
      expect(schemas[format].safeParse(roundTrip(formatPair(pair, format))).success).toBe(true);
    }
  });

  it('the SFT record is the prompt and the final revision', () => {
    const line = SftLineSchema.parse(roundTrip(toSft(pair)));
    expect(line).toEqual({
      messages: [
        { role: 'user', content: sample.prompt },
        { role: 'assistant', content: pair.chosen },
      ],
      id: pair.id,
      run_id: run.id,
      metadata: pair.metadata,
    });
  });
});
