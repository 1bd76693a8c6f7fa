// Pieces the admin forms share: the refusal in words, and submit/cancel.
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
