import type { ConstitutionDiff, PreviewResult, TextChange } from '@amend/contracts';

/** Text for `amend constitution diff` and `amend constitution preview`. Pure: values in, strings out. */

/** A diff as a reviewer reads it: `+` added, `-` removed, `~` changed, words marked `[-old-]{+new+}`. */
export function renderDiff(d: ConstitutionDiff): string {
  const out = [`${d.from.name}@${d.from.version} -> ${d.to.name}@${d.to.version}`];
  out.push(`sha256 ${d.from.sha256.slice(0, 12)} -> ${d.to.sha256.slice(0, 12)}`);
  if (d.identical) {
    out.push('', 'identical content');
    return out.join('\n');
  }
  const meta = Object.entries(d.metadata) as [string, TextChange][];
  if (meta.length > 0) {
    out.push('', 'metadata');
    for (const [field, change] of meta) out.push(`  ~ ${field}: ${oneLine(change.inline)}`);
  }
  if (d.system) out.push('', 'system', `  ~ ${oneLine(d.system.inline)}`);

  const p = d.principles;
  out.push('', `principles: ${p.added.length} added, ${p.removed.length} removed, ${p.changed.length} changed, ${p.unchanged.length} unchanged`);
  for (const a of p.added) {
    out.push(`  + ${a.id}${a.tags.length ? ` [${a.tags.join(', ')}]` : ''}${a.weight !== 1 ? ` weight ${a.weight}` : ''}`);
    out.push(`      critique: ${oneLine(a.critique)}`, `      revision: ${oneLine(a.revision)}`);
    if (a.comparison) out.push(`      comparison: ${oneLine(a.comparison)}`);
  }
  for (const r of p.removed) out.push(`  - ${r.id}`);
  for (const c of p.changed) {
    out.push(`  ~ ${c.id}`);
    for (const field of ['critique', 'revision', 'comparison'] as const) {
      const change = c[field];
      if (change) out.push(`      ${field}: ${oneLine(change.inline)}`);
    }
    if (c.tags) {
      const tags = [...c.tags.added.map((t) => `+${t}`), ...c.tags.removed.map((t) => `-${t}`)];
      out.push(`      tags: ${tags.join(' ')}`);
    }
    if (c.weight) out.push(`      weight: ${c.weight.from} -> ${c.weight.to}`);
  }
  if (p.reordered) out.push('  (the principles common to both versions are in another order)');

  const e = d.examples;
  if (e.added.length + e.removed.length + e.changed.length > 0) {
    out.push('', `examples: ${e.added.length} added, ${e.removed.length} removed, ${e.changed.length} changed`);
    for (const a of e.added) out.push(`  + examples[${a.index}] (${a.messages.length} messages)`);
    for (const r of e.removed) out.push(`  - examples[${r.index}]`);
    for (const c of e.changed) {
      for (const m of c.messages) {
        const role = m.role ? ` role ${m.role.from ?? '(none)'} -> ${m.role.to ?? '(none)'}` : '';
        out.push(`  ~ examples[${c.index}].messages[${m.index}]${role}${m.content ? `: ${oneLine(m.content.inline)}` : ''}`);
      }
    }
  }
  return out.join('\n');
}

export function renderPreview(p: PreviewResult): string {
  const out = [
    `preview of ${p.constitution.name}@${p.constitution.version} (sha256 ${p.constitution.sha256.slice(0, 12)})` +
      `${p.principle ? `, principle ${p.principle}` : ''}: ${p.status}, ${p.usage.calls} model calls` +
      `${p.simulated ? ' (built-in simulator)' : ''}`,
  ];
  p.results.forEach((r, i) => {
    out.push('', `── prompt ${i + 1}: ${oneLine(r.prompt)}`);
    if (r.failure_reason) out.push(`   failed: ${r.failure_reason}`);
    for (const s of r.stages) {
      const label = s.stage === 'draft' ? 'draft' : `${s.stage} (round ${s.round}, ${s.principle_id})`;
      out.push(`   ${label}:`, indent(s.text, 6));
    }
  });
  return out.join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function indent(text: string, by: number): string {
  const pad = ' '.repeat(by);
  return text
    .split('\n')
    .map((l) => (l ? pad + l : l))
    .join('\n');
}
