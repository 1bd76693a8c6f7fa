// Balance, equity, margin, free margin, margin level: equity moves with the live P&L.
import type { UseQueryResult } from '@tanstack/react-query';
import type { Account } from '../../api/types';
import { money, signClass } from '../../components/format';
import { QueryView } from '../../components/states';

export function AccountSummary({ query, floating }: { query: UseQueryResult<Account>; floating: number | null }) {
  return (
    <QueryView query={query}>
      {(a) => {
        const equity = floating === null ? a.equity : a.balance + floating;
        const free = equity - a.margin;
        const level = a.margin > 0 ? (equity / a.margin) * 100 : 0;
        const items: [string, string, string][] = [
          ['Balance', money(a.balance, a.currency), ''],
          ['Equity', money(equity, a.currency), ''],
          ['Floating P&L', money(equity - a.balance, a.currency), signClass(equity - a.balance)],
          ['Margin', money(a.margin, a.currency), ''],
          ['Free margin', money(free, a.currency), ''],
          ['Margin level', a.margin > 0 ? `${level.toFixed(2)} %` : '—', ''],
        ];
        return (
          <dl className="figures" data-testid="account-summary">
            {items.map(([label, value, cls]) => (
              <div key={label}>
                <dt>{label}</dt>
                <dd className={cls} data-field={label}>
                  {value}
                </dd>
              </div>
            ))}
          </dl>
        );
      }}
    </QueryView>
  );
}
