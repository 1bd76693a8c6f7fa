// Numbers and times as a trader reads them.
export function money(value: number, currency = ''): string {
  const text = value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return currency ? `${text} ${currency}` : text;
}

export function price(value: number | null | undefined, digits = 5): string {
  if (value === null || value === undefined || value === 0) return '—';
  return value.toFixed(digits);
}

export function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString('en-GB', { hour12: false });
}

export function signClass(value: number): string {
  if (value > 0) return 'up';
  if (value < 0) return 'down';
  return '';
}
