import { useState } from 'preact/hooks';
import { confirmation } from '../state/store.ts';
import { Dialog } from './Dialog.tsx';

/** Asks before a destructive action (delete, kick, ban, leave, lowering one's own role), with an optional reason sent along. */
export function ConfirmDialog() {
  const c = confirmation.value;
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  if (!c) return null;
  const close = () => {
    confirmation.value = null;
    setReason('');
  };
  return (
    <Dialog title={c.title} onClose={close}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          await c.run(reason.trim());
          setBusy(false);
          close();
        }}
      >
        <p>{c.text}</p>
        {!c.noReason && (
          <label>
            Reason (optional)
            <input type="text" value={reason} maxLength={200} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
        )}
        <div class="dialog-actions">
          <button type="button" onClick={close}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={busy}>
            {c.action}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
