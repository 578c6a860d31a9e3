import { useEffect, useState } from 'preact/hooks';
import { type PublicRoom, errorText } from '../api.ts';
import { shortServer } from '../format.ts';
import { attempt, closeDialog, loadRooms, openRoom, service } from '../state/actions.ts';
import { rooms } from '../state/store.ts';
import { Dialog } from './Dialog.tsx';
import { ErrorNote } from './ErrorNote.tsx';

/** Public rooms announced by this server and the peers it can reach. */
export function ExploreDialog() {
  const [list, setList] = useState<PublicRoom[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    service()
      .publicRooms()
      .then(setList, (e: unknown) => setError(errorText(e)));
  }, []);
  const joined = new Set(rooms.value.filter((r) => r.membership === 'join').map((r) => r.roomId));
  const join = async (r: PublicRoom) => {
    if (await attempt('Could not join', () => service().join(r.roomId, [r.server]))) {
      await loadRooms();
      closeDialog();
      openRoom(r.roomId);
    }
  };
  return (
    <Dialog title="Explore public rooms" onClose={closeDialog}>
      {error && <ErrorNote error={error} />}
      {!list && !error && (
        <p class="muted" role="status">
          Asking reachable peers…
        </p>
      )}
      {list && list.length === 0 && <p class="muted">No public rooms found on this server or its reachable peers.</p>}
      {list && list.length > 0 && (
        <ul class="plain-list">
          {list.map((r) => (
            <li key={r.roomId} class="explore-row">
              <div>
                <strong>{r.name ?? r.roomId}</strong>
                <span class="muted small-text">
                  {' '}
                  · {r.members} member{r.members === 1 ? '' : 's'} · via {shortServer(`x:${r.server}`)}
                </span>
                {r.topic && <div class="small-text">{r.topic}</div>}
              </div>
              {joined.has(r.roomId) ? (
                <button type="button" class="small" onClick={() => {
                    closeDialog();
                    openRoom(r.roomId);
                  }}>
                  Open
                </button>
              ) : (
                <button type="button" class="small primary" onClick={() => join(r)}>
                  Join
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </Dialog>
  );
}
