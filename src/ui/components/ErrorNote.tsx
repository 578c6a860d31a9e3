import { humanError } from '../errors.ts';

/** A failure in words, with the technical text behind "Details". */
export function ErrorNote(props: { error: unknown }) {
  const e = humanError(props.error);
  return (
    <div class="error-text" role="alert">
      <p>{e.text}</p>
      <details class="toast-details">
        <summary>Details</summary>
        <code>{e.detail}</code>
      </details>
    </div>
  );
}
