// Pieces the admin forms share: the refusal in words, submit/cancel, search, scope choice.
import type { ScopeInfo } from '../api/types';
import { errorText } from './states';

export function FormFooter({ error, busy, submit, onCancel }: {
  error: unknown;
  busy: boolean;
  submit: string;
  onCancel: () => void;
}) {
  return (
    <>
      {error ? (
        <p className="notice bad" role="alert">
          {errorText(error)}
        </p>
      ) : null}
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          {submit}
        </button>
        <button type="button" className="ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </>
  );
}

export function SearchBox({ value, onChange, name }: { value: string; onChange: (v: string) => void; name: string }) {
  return (
    <label className="field inline search">
      <span>Search</span>
      <input type="search" value={value} onChange={(e) => onChange(e.target.value)} name={name} />
    </label>
  );
}

/** Checkboxes for scopes, by name. */
export function ScopePicker({ legend, scopes, chosen, onChange, loading = false }: {
  legend: string;
  scopes: ScopeInfo[];
  chosen: string[];
  onChange: (names: string[]) => void;
  loading?: boolean;
}) {
  return (
    <fieldset className="scope-picker">
      <legend>{legend}</legend>
      {loading && <span className="muted">Loading scopes…</span>}
      {scopes.map((s) => (
        <label key={s.id} className="check">
          <input
            type="checkbox"
            checked={chosen.includes(s.name)}
            onChange={(e) => onChange(e.target.checked ? [...chosen, s.name] : chosen.filter((x) => x !== s.name))}
          />
          {s.name}
        </label>
      ))}
    </fieldset>
  );
}
