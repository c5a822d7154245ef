import { createHash } from 'node:crypto';
import { constitutionSha256 } from './hash';
import { parseConstitutionYaml } from './loader';
import { ConstitutionSchema } from './schema';

const yamlA = `
name: harmless
version: 1.0.0
principles:
  - id: harmful-general
    critique: Identify harm.
    revision: Remove harm.
`;
// Same content: other key order, flow style, explicit defaults, surrounding whitespace in texts.
const yamlB = `
version: "1.0.0"
principles: [{ revision: "  Remove harm.", weight: 1, tags: [], critique: "Identify harm.  ", id: harmful-general }]
examples: []
name: harmless
`;

describe('constitutionSha256', () => {
  it('is the sha256 of the RFC 8785 canonical JSON of the parsed content', () => {
    const c = parseConstitutionYaml(yamlA);
    const canonical =
      '{"examples":[],"name":"harmless","principles":[{"critique":"Identify harm.","id":"harmful-general","revision":"Remove harm.","tags":[],"weight":1}],"version":"1.0.0"}';
    expect(constitutionSha256(c)).toBe(createHash('sha256').update(canonical).digest('hex'));
  });

  it('gives the same hash for the same content written differently', () => {
    expect(constitutionSha256(parseConstitutionYaml(yamlB))).toBe(constitutionSha256(parseConstitutionYaml(yamlA)));
  });

  it('gives the same hash whether or not defaults were filled in before hashing', () => {
    const raw = { name: 'harmless', version: '1.0.0', principles: [{ id: 'p', critique: 'c', revision: 'r' }] };
    expect(constitutionSha256(raw as never)).toBe(constitutionSha256(ConstitutionSchema.parse(raw)));
  });

  it('changes when any principle text changes', () => {
    const c = parseConstitutionYaml(yamlA);
    const changed = { ...c, principles: [{ ...c.principles[0], revision: 'Remove all harm.' }] };
    expect(constitutionSha256(changed)).not.toBe(constitutionSha256(c));
  });
});
