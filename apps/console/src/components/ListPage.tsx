import { useState, type ReactNode } from 'react';
import { ErrorView, Loading, TableHead } from './common';

/**
 * A page that lists a team's items in one table, newest first, with (for who may) a button that
 * opens the form starting a new one. Evaluations and suggestion sets share it.
 */
export function ListPage<D, T>(props: {
  title: string;
  /** The button's label; no button when `canCreate` is false. */
  newLabel: string;
  canCreate: boolean;
  form: ReactNode;
  intro?: ReactNode;
  list: { data: D | undefined; error: unknown };
  items: (data: D) => T[];
  testId: string;
  columns: Parameters<typeof TableHead>[0]['columns'];
  empty: ReactNode;
  row: (item: T) => ReactNode;
}) {
  const [creating, setCreating] = useState(false);
  const { data, error } = props.list;
  return (
    <div className="page">
      <div className="page-title">
        <h1>{props.title}</h1>
        {props.canCreate ? (
          <button className="primary" onClick={() => setCreating((c) => !c)}>
            {creating ? 'Close' : props.newLabel}
          </button>
        ) : null}
      </div>
      {props.intro}
      {creating ? props.form : null}
      {error && !data ? <ErrorView error={error} what={props.title} /> : null}
      {!data && !error ? <Loading what={props.title.toLowerCase()} /> : null}
      {data ? (
        <div className="card">
          <table className="table" data-testid={props.testId}>
            <TableHead columns={props.columns} />
            <tbody>
              {props.items(data).length === 0 ? (
                <tr>
                  <td colSpan={props.columns.length} className="muted">
                    {props.empty}
                  </td>
                </tr>
              ) : null}
              {props.items(data).map(props.row)}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
