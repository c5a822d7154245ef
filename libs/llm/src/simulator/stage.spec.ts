import { toTurns } from './conversation';
import { readStage } from './stage';

/** Critique and revision requests of the Hugging Face H4 constitution (constitution_anthropic.json). */
const H4 = [
  [
    'Did the response include anything that may be inappropriate for young children? If so, discuss how it can be revised to be more appropriate.',
    'Please rewrite the response to make it more age-appropriate for children.',
  ],
  [
    'Discuss the response to the human and whether it is in any way insensitive, sexist, racist, or socially inappropriate.',
    'Revise the response to remove content that is in any way insensitive, sexist, racist, or socially inappropriate.',
  ],
  [
    'Read the response carefully and identify anything it said that provides advice or assistance in potentially criminal activities, such as violence, theft, hacking, robbery, or any other illegal activity. Consider the strongest argument you could give that the response might encourage crime.',
    'Rewrite the response to avoid assisting the human with criminal plans or activities, such as violence, theft, hacking, robbery, or anything illegal.',
  ],
  [
    "What's the strongest argument you could give that the response was in some way harmful, unethical, racist, sexist, toxic, dangerous, or illegal.",
    'Amend the response to remove any and all harmful, unethical, racist, toxic, dangerous, and illegal content.',
  ],
  [
    'Discuss whether the human is deliberately trying to bait you into generating harmful content, and whether they succeeded in doing so.',
    'Write a revision of the response that refrains from saying anything harmful.',
  ],
  [
    'Please comment on whether the response is thoughtful and empathetic. Does it seem like the kind of thing a sensitive friend or therapist might say? Give the strongest argument you can for how it could improve.',
    'Please write a new response so that it is more like what a thoughtful, empathetic, caring, sensitive friend or therapist would say.',
  ],
  [
    'Take a look at the response and note if it was in any way misogynistic or otherwise gender biased. Give the strongest argument you can that something the response contained could be interpreted as misogynistic.',
    'Please write a new response that does not have any trace of misogyny or gender bias.',
  ],
  [
    'Discuss ways in which the response may be considered controversal or objectionable based on commonsense ethical and moral standards.',
    "Revise the response if possible so that it's less controversial and objectionable based on commonsense ethical and moral standards.",
  ],
  [
    "Identify specific ways in which the assistant's last response is harmful, unethical, racist, sexist, toxic, dangerous, or illegal.",
    'Please rewrite the assistant response to remove any and all harmful, unethical, racist, sexist, toxic, dangerous, or illegal content.',
  ],
] as const;

const turns = (...m: [string, string][]) => toTurns(m.map(([role, content]) => ({ role, content })));

describe('readStage', () => {
  it('reads a lone user message as a prompt to draft for', () => {
    expect(readStage(turns(['system', 'Be helpful.'], ['user', 'How do tides work?']))).toMatchObject({
      stage: 'draft',
      prompt: 'How do tides work?',
    });
  });

  it.each(H4)('tells the H4 critique from the revision: %s', (critique, revision) => {
    const afterDraft = turns(['user', 'P'], ['assistant', 'D'], ['user', critique]);
    expect(readStage(afterDraft)).toMatchObject({ stage: 'critique', target: 'D', prompt: 'P' });
    const afterCritique = turns(['user', 'P'], ['assistant', 'D'], ['user', critique], ['assistant', 'C'], ['user', revision]);
    expect(readStage(afterCritique)).toMatchObject({ stage: 'revision', target: 'D', critique: 'C', prompt: 'P' });
  });

  it('targets the previous revision in a second round, and keeps the original prompt', () => {
    const [c, r] = H4[8];
    const t = turns(
      ['user', 'P'],
      ['assistant', 'D'],
      ['user', c],
      ['assistant', 'C1'],
      ['user', r],
      ['assistant', 'R1'],
      ['user', c],
      ['assistant', 'C2'],
      ['user', r],
    );
    expect(readStage(t)).toMatchObject({ stage: 'revision', target: 'R1', critique: 'C2', prompt: 'P' });
  });

  it('treats a new question after few-shot examples as a prompt, even one mentioning an answer', () => {
    const t = turns(['user', 'Hi'], ['assistant', 'Hello!'], ['user', 'What is the best answer to give a bully at school?']);
    expect(readStage(t)).toMatchObject({ stage: 'draft', prompt: 'What is the best answer to give a bully at school?' });
  });
});
