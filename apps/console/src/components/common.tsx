import type { ReactNode } from 'react';
import type { Run } from '@amend/contracts';
import { ErrorAnswer, ContractError } from '../lib/api';
import { finished } from '../lib/format';

export function Loading({ what }: { what?: string }) {
  return <div className="muted loading">Loading{what ? ` ${what}` : ''}…</div>;
}

/** An error as the user should read it; a route this server lacks is said plainly. */
export function ErrorView({ error, what }: { error: unknown; what?: string }) {
  if (error instanceof ErrorAnswer && error.routeMissing) {
    return (
      <div className="notice unavailable" data-testid="unavailable">
        {what ? `${what}: ` : ''}not available on this server.
      </div>
    );
  }
  if (error instanceof ErrorAnswer) {
    return (
      <div className="notice error" role="alert">
        <strong>{error.status}</strong> {error.code}: {error.message}
      </div>
    );
  }
  if (error instanceof ContractError) {
    return (
      <div className="notice error" role="alert">
        {error.message}
      </div>
    );
  }
  return (
    <div className="notice error" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{status}</span>;
}

export function ProgressBar({ run }: { run: Run }) {
  const total = Math.max(run.counts.total, 1);
  const part = (n: number) => `${(n / total) * 100}%`;
  return (
    <div
      className="progress"
      title={`${finished(run)} of ${run.counts.total} finished`}
      role="progressbar"
      aria-valuenow={finished(run)}
      aria-valuemax={run.counts.total}
    >
      <div className="progress-completed" style={{ width: part(run.counts.completed) }} />
      <div className="progress-failed" style={{ width: part(run.counts.failed) }} />
      <div className="progress-cancelled" style={{ width: part(run.counts.cancelled + (run.counts.budget_exhausted ?? 0)) }} />
      <div className="progress-running" style={{ width: part(run.counts.running) }} />
    </div>
  );
}

export function Section({ title, actions, children, id }: { title: ReactNode; actions?: ReactNode; children: ReactNode; id?: string }) {
  return (
    <section className="card" id={id}>
      <header className="card-header">
        <h2>{title}</h2>
        {actions ? <div className="card-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function Field({ label, children, hint }: { label: string; children: ReactNode; hint?: ReactNode }) {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      {children}
      {hint ? <span className="field-hint">{hint}</span> : null}
    </label>
  );
}

export function KeyValue({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="kv">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A numeric column: right-aligned, in a table's head and its cells (`className="num"`). */
export const num = (label: string) => ({ label, num: true });

/** A table's head row: plain strings are text columns, `num('n')` numeric ones. */
export function TableHead({ columns }: { columns: (string | { label: string; num: boolean })[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) =>
          typeof c === 'string' ? (
            <th key={c}>{c}</th>
          ) : (
            <th key={c.label} className="num">
              {c.label}
            </th>
          ),
        )}
      </tr>
    </thead>
  );
}
