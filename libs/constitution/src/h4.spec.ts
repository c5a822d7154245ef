import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ANTHROPIC_CAI_OPTIONS } from '../scripts/import-anthropic-cai';
import { ConstitutionError } from './errors';
import { exportH4, h4PrincipleId, importH4, inferH4Tags } from './h4';
import { constitutionSha256 } from './hash';
import { loadConstitutionFile, parseConstitutionYaml } from './loader';
import { constitutionToYaml } from './to-yaml';

const root = resolve(__dirname, '../../..');
const fixture = JSON.parse(readFileSync(resolve(root, 'test/fixtures/h4/constitution_anthropic.json'), 'utf8'));

describe('H4 import and export', () => {
  const imported = importH4(fixture, ANTHROPIC_CAI_OPTIONS);

  it('turns each critic/revision pair into a principle and each system_chat conversation into an example', () => {
    expect(imported.principles).toHaveLength(fixture.constitutions.length);
    imported.principles.forEach((p, i) => {
      expect(p.critique).toBe(fixture.constitutions[i].critic);
      expect(p.revision).toBe(fixture.constitutions[i].revision);
      expect(p.tags[0]).toBe('harmlessness');
    });
    expect(imported.examples.map((e) => e.messages)).toEqual(fixture.system_chat);
    expect(imported.name).toBe('anthropic-cai');
  });

  it('gives principles unique ids that stay the same across imports', () => {
    const ids = imported.principles.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe('h4-1-inappropriate-young-children-revised');
    expect(importH4(fixture, ANTHROPIC_CAI_OPTIONS).principles.map((p) => p.id)).toEqual(ids);
    expect(constitutionSha256(importH4(fixture, ANTHROPIC_CAI_OPTIONS))).toBe(constitutionSha256(imported));
  });

  it('round-trips: export of the import equals the H4 input', () => {
    expect(exportH4(imported)).toEqual(fixture);
  });

  it('tags principles by the kind of harm they name', () => {
    expect(inferH4Tags('inappropriate for young children')).toEqual(['child-safety']);
    expect(inferH4Tags('whether it is racist or sexist')).toEqual(['bias']);
    expect(inferH4Tags('assistance in criminal activities')).toEqual(['illegal-activity']);
    expect(h4PrincipleId(2, "What's the strongest argument that it was harmful?")).toBe('h4-3-harmful');
  });

  it('rejects input that is not an H4 constitution, naming the field', () => {
    expect(() => importH4({ constitutions: [{ critique: 'x', revision: 'y' }] }, ANTHROPIC_CAI_OPTIONS)).toThrow(ConstitutionError);
    try {
      importH4({ constitutions: [{ critic: 'x' }] }, ANTHROPIC_CAI_OPTIONS);
    } catch (e) {
      expect((e as ConstitutionError).issues[0].path).toBe('constitutions[0].revision');
    }
  });

  it('the bundled anthropic-cai/1.0.0.yaml equals the import of the H4 fixture', () => {
    const bundled = loadConstitutionFile(resolve(root, 'constitutions/anthropic-cai/1.0.0.yaml'));
    expect(bundled.constitution).toEqual(imported);
    expect(bundled.sha256).toBe(constitutionSha256(imported));
  });

  it('writes YAML that parses back to the same content', () => {
    expect(parseConstitutionYaml(constitutionToYaml(imported))).toEqual(imported);
  });
});
