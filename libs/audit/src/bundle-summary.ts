import type { BundleReport } from './bundle';
import type { DatasetFileReport } from './dataset-file';

/**
 * The one-page summary of a bundle for a person (a regulator, a reviewer): a self-contained HTML
 * file (no script, no external style or font) with the run, its constitution, models and counts,
 * what the offline verification found, and how to check it again. It is made from the bundle as
 * verified offline, never from the server's word, and names the bundle by its sha256.
 */
export interface SummaryInput {
  report: BundleReport;
  bundleFile: string;
  bundleSha256: string;
  generatedAt?: Date;
  dataset?: { file: string; report: DatasetFileReport };
}

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function row(label: string, value: string): string {
  return `<tr><th>${esc(label)}</th><td>${value}</td></tr>`;
}

export function renderBundleSummary(input: SummaryInput): string {
  const { report: r, bundleFile, bundleSha256 } = input;
  const f = r.facts;
  const generated = (input.generatedAt ?? new Date()).toISOString();
  const verdict = r.ok ? 'INTACT' : 'NOT INTACT';
  const failures = [
    ...r.failures.map((x) => `${x.reason.replace('_', ' ')}${x.chain ? ` in ${x.chain}` : ''}${x.seq !== null ? ` at seq ${x.seq}` : ''}: ${x.message}`),
    ...r.evidence.failures.map((x) => `${x.kind}${x.id ? ` ${x.id}` : ''}${x.line !== null ? ` (bundle line ${x.line})` : ''}: ${x.message}`),
  ];
  const more = r.failures_total + r.evidence.failures_total - failures.length;
  const types = Object.entries(f.event_types)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([t, n]) => `${esc(t)}&nbsp;${n}`)
    .join(', ');
  const keys = f.keys.length
    ? `<ul>${f.keys.map((k) => `<li><code>key:${esc(k.id)}</code> ${esc(k.name ?? '(no name)')}, ${esc(k.role)} of team ${esc(k.team)}, created ${esc(k.created_at)}${k.revoked_at ? `, revoked ${esc(k.revoked_at)}` : ''}</li>`).join('')}</ul>`
    : 'none';
  const dataset = input.dataset
    ? `<h2>Dataset file</h2><p><code>${esc(input.dataset.file)}</code>: ${input.dataset.report.ok ? 'every line is the export line of its pair' : `<strong>${input.dataset.report.failures_total} line(s) do not match their pair</strong>`} (${input.dataset.report.matched} of ${input.dataset.report.lines} lines matched).</p>${
        input.dataset.report.ok
          ? ''
          : `<ul>${input.dataset.report.failures
              .slice(0, 50)
              .map((x) => `<li>${esc(x.message)}</li>`)
              .join('')}</ul>`
      }`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Audit summary of run ${esc(r.run_id)}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #ddd}th{width:14rem;font-weight:600}
code,pre{font:13px ui-monospace,monospace;word-break:break-all}pre{background:#f4f4f4;padding:.6rem;white-space:pre-wrap}
.verdict{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;font-weight:700;color:#fff;background:${r.ok ? '#1f7a3a' : '#b3261e'}}
</style></head><body>
<h1>Audit summary of run <code>${esc(r.run_id)}</code></h1>
<p><span class="verdict">${verdict}</span> as verified offline from the bundle below, ${esc(generated)}.</p>
<h2>The run</h2>
<table>
${row('Run', `<code>${esc(r.run_id)}</code>, ${esc(r.run_status)}${f.mode ? `, mode ${esc(f.mode)}` : ''}${f.seed !== null ? `, seed ${f.seed}` : ''}`)}
${row('Constitution', f.constitutions.map((c) => `${esc(c.name)}@${esc(c.version)} <code>sha256 ${esc(c.sha256)}</code>`).join('<br>') || 'none named')}
${row('Models', `aliases ${esc(f.models.aliases.join(', ') || 'none')}; reported by the backends: ${esc(f.models.reported.join(', ') || 'none')}`)}
${row('Counts', `${f.samples} samples, ${f.pairs} pairs, ${f.reviews} reviews; ${r.events} events in ${r.chains} chains`)}
${row('Events by type', types || 'none')}
${row('Seal', r.sealed ? `${r.seals} seal(s), Merkle root <code>${esc(r.root)}</code>` : 'not sealed')}
${row('Exported', esc(r.exported_at))}
${row('Bundle', `<code>${esc(bundleFile)}</code><br>sha256 <code>${esc(bundleSha256)}</code> (format version ${esc(r.bundle_version)})`)}
</table>
<h2>Keys that acted</h2>
${keys}
<h2>Verification</h2>
<table>
${row('Chains and seals', r.chains_ok ? 'every chain recomputes; the seal is the Merkle root of the chain heads; every message and response body hashes to its name' : '<strong>do not verify</strong>')}
${row('Global chain', r.global ? (r.global.ok ? `intact (${r.global.events} events)` : '<strong>does not verify</strong>') : 'not in this bundle')}
${row('Evidence', r.evidence.ok ? 'manifest, constitution texts, key directory, pairs and reviews match the trail' : `<strong>${r.evidence.failures_total} problem(s)</strong>`)}
</table>
${
  r.erasures.samples.length
    ? `<p>${r.erasures.samples.length} sample(s) were erased (content removed at a data subject's or operator's request, every hash kept); the chains and seals still verify:</p><ul>${r.erasures.samples
        .slice(0, 50)
        .map((e) => `<li><code>${esc(e.sample_id)}</code> by ${esc(e.by)} at ${esc(e.at)}: ${esc(e.reason ?? '(no reason)')}</li>`)
        .join('')}</ul>`
    : ''
}
${failures.length ? `<ul>${failures.map((x) => `<li>${esc(x)}</li>`).join('')}${more > 0 ? `<li>… ${more} more</li>` : ''}</ul>` : ''}
${dataset}
<h2>How to check it again</h2>
<p>With the Amend command line (no server and no database needed):</p>
<pre>sha256sum ${esc(bundleFile)}   # ${esc(bundleSha256)}
amend audit verify --file ${esc(bundleFile)}${input.dataset ? ` --dataset ${esc(input.dataset.file)}` : ''}</pre>
<p>Without it: each line without a <code>kind</code> is an event; recompute <code>hash = sha256(prev_hash || canonical JSON (RFC 8785) of the event without prev_hash and hash)</code>,
the first event of each chain linking to 64 zeros, and compare the last <code>run.sealed</code> event's root with the RFC 6962 Merkle root over
<code>{chain, count, head}</code> of every chain. The bundle's header line describes every hash it holds.</p>
</body></html>
`;
}
