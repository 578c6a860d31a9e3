import { useState } from 'preact/hooks';
import { attempt, closeDialog, say, service } from '../state/actions.ts';
import { currentRoomId } from '../state/store.ts';
import { Dialog } from './Dialog.tsx';

export function InviteDialog() {
  const [userId, setUserId] = useState('');
  const [busy, setBusy] = useState(false);
  const valid = /^@[^:]+:.+$/.test(userId.trim());
  const roomId = currentRoomId.value;
  return (
    <Dialog title="Invite someone" onClose={closeDialog}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!roomId) return;
          const target = userId.trim();
          setBusy(true);
          const ok = await attempt(`Could not invite ${target}`, () => service().invite(roomId, target));
          setBusy(false);
          if (ok) {
            say(`Invited ${target}`);
            closeDialog();
          }
        }}
      >
        <label>
          User ID
          <input
            type="text"
            placeholder="@name:server"
            value={userId}
            required
            onInput={(e) => setUserId(e.currentTarget.value)}
          />
        </label>
        <div class="dialog-actions">
          <button type="button" onClick={closeDialog}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy || !valid}>
            Send invite
          </button>
        </div>
      </form>
    </Dialog>
  );
}
