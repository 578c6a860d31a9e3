import { notice } from '../state/store.ts';

/** The last message or error, announced to screen readers; an error's technical text sits behind "Details". */
export function Toast() {
  const n = notice.value;
  return (
    <div class="toast-area" role="status" aria-live="polite">
      {n && (
        <div class={n.error ? 'toast error' : 'toast'}>
          <div class="toast-text">
            <span>{n.text}</span>
            {n.detail && (
              <details class="toast-details">
                <summary>Details</summary>
                <code>{n.detail}</code>
              </details>
            )}
          </div>
          <button type="button" class="icon" aria-label="Dismiss" onClick={() => (notice.value = null)}>
            ✕
          </button>
        </div>
      )}
    </div>
  );
}
