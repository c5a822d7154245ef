import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { ConstitutionSchema, type Constitution } from './schema';

/**
 * sha256 (hex) of the RFC 8785 canonical JSON of the parsed constitution. Parsing first means
 * defaults (tags, weight, examples) and trimming are applied, so a file and the same content
 * written differently (key order, YAML style, omitted defaults) hash the same.
 */
export function constitutionSha256(c: Constitution): string {
  const canonical = canonicalize(ConstitutionSchema.parse(c));
  if (canonical === undefined) throw new Error('constitution has no JSON representation');
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}
