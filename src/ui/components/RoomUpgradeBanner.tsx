import { openRoom } from '../state/actions.ts';
import { currentRoom, rooms } from '../state/store.ts';
import { followUpgrade } from '../state/upgrade.ts';

/**
 * Where a room stands in an upgrade chain: in a replaced room (it has a tombstone) a way to the
 * new room — open it if I am in it, else join it; in a room that continues an older one, a link
 * back to that room's history.
 */
export function RoomUpgradeBanner() {
  const room = currentRoom.value;
  if (!room) return null;
  const known = (roomId: string) => rooms.value.find((r) => r.roomId === roomId);
  if (room.replacement) {
    const next = known(room.replacement.roomId);
    return (
      <section class="banner upgrade-banner" role="status" aria-label="Room replaced">
        <span>
          <strong>This room has been replaced</strong> and is no longer used — go to the new room.
        </span>
        {next?.membership === 'join' ? (
          <button type="button" class="primary" onClick={() => openRoom(next.roomId)}>
            Go to the new room
          </button>
        ) : (
          <button type="button" class="primary" onClick={() => void followUpgrade(room)}>
            Join the new room
          </button>
        )}
      </section>
    );
  }
  if (room.predecessor) {
    const older = known(room.predecessor);
    return (
      <section class="banner upgrade-banner" aria-label="Continued from an older room">
        <span>This room is continued from an older room.</span>
        {older ? (
          <button type="button" onClick={() => openRoom(older.roomId)}>
            See older messages
          </button>
        ) : (
          <span class="muted small-text">Its history is on the servers that were in it.</span>
        )}
      </section>
    );
  }
  return null;
}
