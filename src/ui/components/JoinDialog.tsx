import { useState } from 'preact/hooks';
import { attempt, closeDialog, loadRooms, openRoom, service } from '../state/actions.ts';
import { Dialog } from './Dialog.tsx';

/** Join a public room or knock on a room, by room ID. */
export function JoinDialog() {
  const [roomId, setRoomId] = useState('');
  const [reason, setReason] = useState('');
  const [server, setServer] = useState('');
  const [busy, setBusy] = useState(false);
  // A room version 12 ID is `!` + 43 characters of hash and names no server: one must be given.
  const hashId = /^![A-Za-z0-9_-]{43}$/.test(roomId.trim());
  const valid = /^!.+:.+$/.test(roomId.trim()) || (hashId && server.trim() !== '');
  const run = async (knock: boolean) => {
    const id = roomId.trim();
    const via = server.trim() ? [server.trim()] : [];
    setBusy(true);
    const ok = await attempt(knock ? 'Could not knock' : 'Could not join', () =>
      knock ? service().knock(id, via, reason.trim() || undefined) : service().join(id, via),
    );
    setBusy(false);
    if (!ok) return;
    await loadRooms();
    closeDialog();
    if (!knock) openRoom(id);
  };
  return (
    <Dialog title="Join a room by ID" onClose={closeDialog}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(false);
        }}
      >
        <label>
          Room ID
          <input
            type="text"
            placeholder="!abc:server"
            value={roomId}
            required
            onInput={(e) => setRoomId(e.currentTarget.value)}
          />
        </label>
        <label>
          Server to join through{hashId ? '' : ' (optional)'}
          <input type="text" placeholder="a member's server name" value={server} onInput={(e) => setServer(e.currentTarget.value)} />
        </label>
        {hashId && <p class="muted small-text">A version 12 room ID names no server: give the server of someone in the room.</p>}
        <label>
          Reason (for a knock)
          <input type="text" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
        <p class="muted small-text">Join works for public rooms; knock asks the room's members to let you in.</p>
        <div class="dialog-actions">
          <button type="button" disabled={busy || !valid} onClick={() => run(true)}>
            Knock
          </button>
          <button type="submit" class="primary" disabled={busy || !valid}>
            Join
          </button>
        </div>
      </form>
    </Dialog>
  );
}
