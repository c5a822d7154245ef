import { generateKey, strongEnough } from './api-key';

describe('the bootstrap admin key (AMEND_ADMIN_KEY)', () => {
  // Written out by hand: what an operator might set, and whether boot takes it.
  it.each([
    ['a short password', 'hunter2', false],
    ['amd_ and 20 equal characters (accepted before issue 13)', `amd_${'a'.repeat(20)}`, false],
    ['amd_ and 43 equal characters', `amd_${'a'.repeat(43)}`, false],
    ['amd_ and a two-character cycle of 44', `amd_${'ab'.repeat(22)}`, false],
    ['amd_ and a 15-character cycle of 45', `amd_${'abcdefghijklmno'.repeat(3)}`, false],
    ['amd_ and 42 characters of random base64url (31.5 bytes)', 'amd_kkWF3KEskgOD4xeNlfUWwoFbtipkv2JYmt9OiqwEY5', false],
    ['amd_ and 32 random bytes (43 characters)', 'amd_kkWF3KEskgOD4xeNlfUWwoFbtipkv2JYmt9OiqwEY54', true],
    ['no amd_ prefix', 'kkWF3KEskgOD4xeNlfUWwoFbtipkv2JYmt9OiqwEY54', false],
  ])('%s: %s -> %s', (_what, key, ok) => expect(strongEnough(key)).toBe(ok));

  it('takes every key the service generates', () => {
    for (let i = 0; i < 200; i++) expect(strongEnough(generateKey().key)).toBe(true);
  });
});
