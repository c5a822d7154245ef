import { Document, isScalar, isSeq, visit } from 'yaml';
import type { Constitution } from './schema';

/**
 * Writes a constitution as the YAML an author would write: fields in reading order, defaults
 * (weight 1, no tags, no examples) left out. Parsing the result gives back the same content.
 */
export function constitutionToYaml(c: Constitution): string {
  const doc = {
    name: c.name,
    version: c.version,
    ...(c.title !== undefined ? { title: c.title } : {}),
    ...(c.description !== undefined ? { description: c.description } : {}),
    ...(c.changelog !== undefined ? { changelog: c.changelog } : {}),
    ...(c.system !== undefined ? { system: c.system } : {}),
    principles: c.principles.map((p) => ({
      id: p.id,
      ...(p.tags.length > 0 ? { tags: p.tags } : {}),
      ...(p.weight !== 1 ? { weight: p.weight } : {}),
      critique: p.critique,
      revision: p.revision,
      ...(p.comparison !== undefined ? { comparison: p.comparison } : {}),
    })),
    ...(c.examples.length > 0 ? { examples: c.examples.map((e) => ({ messages: e.messages })) } : {}),
  };
  const yaml = new Document(doc);
  // Tag lists read best on one line: `tags: [harmlessness, bias]`.
  visit(yaml, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === 'tags' && isSeq(pair.value)) pair.value.flow = true;
    },
  });
  return yaml.toString({ lineWidth: 100, minContentWidth: 40, blockQuote: 'literal', flowCollectionPadding: false });
}
