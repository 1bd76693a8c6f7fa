// The tables of the app: a column list, rows, and the markup (scoped headers, numeric
// alignment, horizontal scroll on narrow screens) written once.
import type { ReactNode } from 'react';

export interface Column<T> {
  /** Empty: an actions column, named for screen readers only. */
  header: string;
  cell: (row: T) => ReactNode;
  numeric?: boolean;
  className?: (row: T) => string;
}

interface Props<T> {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string | number;
  /** data-* attributes of a row (tests and deep links find rows by them). */
  rowData?: (row: T) => Record<string, string | number>;
  testId?: string;
}

export function DataTable<T>({ columns, rows, rowKey, rowData, testId }: Props<T>) {
  return (
    <div className="table-wrap">
      <table className="grid" data-testid={testId}>
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i} scope="col" className={c.numeric ? 'num' : undefined}>
                {c.header || <span className="sr-only">Actions</span>}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} {...prefixed(rowData?.(row))}>
              {columns.map((c, i) => {
                const cls = [c.numeric ? 'num' : '', c.header ? '' : 'actions', c.className?.(row) ?? '']
                  .filter(Boolean)
                  .join(' ');
                return (
                  <td key={i} className={cls || undefined}>
                    {c.cell(row)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function prefixed(data: Record<string, string | number> | undefined): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[`data-${k}`] = v;
  return out;
}
