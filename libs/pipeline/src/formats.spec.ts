import { ConversationalPairLineSchema, H4PairLineSchema, PAIR_FORMATS, SftLineSchema, StandardPairLineSchema } from '@amend/contracts';
import { formatPair, toSft } from './formats';
import { assemblePair } from './assemble-pair';
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

  it('standard (TRL) has plain strings that join as TRL joins them: prompt + chosen is an HH transcript', () => {
    const line = StandardPairLineSchema.parse(roundTrip(formatPair(pair, 'standard')));
    expect(line.prompt).toBe(`\n\nHuman: ${sample.prompt}\n\nAssistant:`);
    expect(line.prompt + line.chosen).toBe(`\n\nHuman: ${sample.prompt}\n\nAssistant: ${pair.chosen}`);
    expect(line.prompt + line.rejected).toBe(`\n\nHuman: ${sample.prompt}\n\nAssistant: ${pair.draft}`);
  });

  it('h4 has the fields of cai-conversation-harmless, with critic and revision from the LAST round', () => {
    const line = H4PairLineSchema.parse(roundTrip(formatPair(pair, 'h4')));
    const last = pair.rounds[1];
    expect(line).toMatchObject({
      init_prompt: sample.prompt,
      init_response: pair.draft,
      critic_prompt: last.critique_request,
      critic_response: last.critique,
      revision_prompt: last.revision_request,
      revision_response: last.revision,
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
    // With two rounds, the final answer is the second revision, and the revision fields describe it.
    expect(line.chosen[1].content).toBe(line.revision_response);
    expect(line.revision_response).not.toBe(pair.rounds[0].revision);
  });

  it('every line carries the sample id and index; judged pairs carry score_chosen, score_rejected and margin at the top level', () => {
    for (const format of PAIR_FORMATS) {
      const line = roundTrip(formatPair(pair, format));
      expect(line).toMatchObject({ sample_id: sample.id, sample_index: sample.index });
      expect(line).not.toHaveProperty('score_chosen');
    }
    const judgement = {
      p_chosen: 0.8,
      label_source: 'logprobs' as const,
      kind: 'verify' as const,
      principle_ids: [],
      orders: { chosen_first: 0.8, chosen_second: 0.8 },
      margin: 0.6,
      chain_of_thought: false,
      comparisons: [],
    };
    const judged = { ...pair, metadata: { ...pair.metadata, judgement, score_chosen: 0.8, score_rejected: 0.2 } };
    for (const format of PAIR_FORMATS) {
      const line = roundTrip(formatPair(judged, format));
      expect(line.score_chosen).toBe(0.8);
      expect(line.score_rejected).toBe(0.2);
      expect(line.margin).toBeCloseTo(0.6, 12);
    }
  });

  it('a multi-turn prompt is the conversation in every format', () => {
    const turns = [
      { role: 'user' as const, content: 'Hi, I need help.' },
      { role: 'assistant' as const, content: 'Sure, with what?' },
      { role: 'user' as const, content: sample.prompt },
    ];
    const multi = { ...pair, prompt_messages: turns };
    expect(formatPair(multi, 'conversational').prompt).toEqual(turns);
    expect(formatPair(multi, 'standard').prompt).toBe(`\n\nHuman: Hi, I need help.\n\nAssistant: Sure, with what?\n\nHuman: ${sample.prompt}\n\nAssistant:`);
    const h4 = formatPair(multi, 'h4');
    expect(h4.prompt).toBe(sample.prompt);
    expect(h4.chosen).toEqual([...turns, { role: 'assistant', content: pair.chosen }]);
    expect(h4.rejected).toEqual([...turns, { role: 'assistant', content: pair.rejected }]);
    expect(toSft(multi).messages).toEqual([...turns, { role: 'assistant', content: pair.chosen }]);
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
      sample_id: sample.id,
      sample_index: sample.index,
      metadata: pair.metadata,
    });
  });
});
