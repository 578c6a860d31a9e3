import { useState } from 'preact/hooks';
import { closeDialog, startChat } from '../state/actions.ts';
import { userIdProblem } from '../errors.ts';
import { Dialog } from './Dialog.tsx';

/** Start a one-to-one chat from a user ID. */
export function DmDialog() {
  const [userId, setUserId] = useState('');
  const [busy, setBusy] = useState(false);
  const valid = /^@[^:]+:.+$/.test(userId.trim());
  const problem = userIdProblem(userId);
  return (
    <Dialog title="Start a chat" onClose={closeDialog}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          const ok = await startChat(userId.trim());
          setBusy(false);
          if (ok) closeDialog();
        }}
      >
        <label>
          Their user ID
          <input
            type="text"
            placeholder="@name:server"
            value={userId}
            required
            aria-invalid={problem ? 'true' : undefined}
            aria-describedby="dm-id-problem"
            onInput={(e) => setUserId(e.currentTarget.value)}
          />
        </label>
        <p id="dm-id-problem" class="field-error" aria-live="polite">
          {problem}
        </p>
        <div class="dialog-actions">
          <button type="submit" class="primary" disabled={busy || !valid}>
            Start chat
          </button>
        </div>
      </form>
    </Dialog>
  );
}
