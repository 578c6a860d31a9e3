import { notice } from '../state/store.ts';

/** The last message or error, announced to screen readers. */
export function Toast() {
  const n = notice.value;
  return (
    <div class="toast-area" role="status" aria-live="polite">
      {n && (
        <div class={n.error ? 'toast error' : 'toast'}>
          <span>{n.text}</span>
          <button type="button" class="icon" aria-label="Dismiss" onClick={() => (notice.value = null)}>
            ✕
          </button>
        </div>
      )}
    </div>
  );
}
