import { useState } from 'preact/hooks';
import { closeDialog, say, service } from '../state/actions.ts';
import { currentRoomId } from '../state/store.ts';
import { userIdProblem } from '../errors.ts';
import { Dialog } from './Dialog.tsx';
import { ErrorNote } from './ErrorNote.tsx';

export function InviteDialog() {
  const [userId, setUserId] = useState('');
  const [busy, setBusy] = useState(false);
  /** The last failure, shown in the dialog (the person's attention is here, and the page behind a modal is inert). */
  const [failure, setFailure] = useState<unknown>(null);
  const valid = /^@[^:]+:.+$/.test(userId.trim());
  const problem = userIdProblem(userId);
  const roomId = currentRoomId.value;
  return (
    <Dialog title="Invite someone" onClose={closeDialog}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!roomId) return;
          const target = userId.trim();
          setBusy(true);
          setFailure(null);
          const ok = await service()
            .invite(roomId, target)
            .then(
              () => true,
              (err: unknown) => {
                setFailure(err);
                return false;
              },
            );
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
            aria-invalid={problem ? 'true' : undefined}
            aria-describedby="invite-id-problem"
            onInput={(e) => setUserId(e.currentTarget.value)}
          />
        </label>
        <p id="invite-id-problem" class="field-error" aria-live="polite">
          {problem}
        </p>
        {failure !== null && <ErrorNote error={failure} />}
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
