import { dialog, directRooms, formerRooms, invites, joinedRooms, knocks, rooms } from '../state/store.ts';
import { withoutSuperseded } from '../state/upgrade.ts';
import { InviteItem } from './InviteItem.tsx';
import { RoomListItem } from './RoomListItem.tsx';

/** The sidebar: actions, invites, rooms, direct messages. */
export function RoomList() {
  const pending = [...invites.value, ...knocks.value];
  // A replaced room leaves the list once I am in the room that replaced it.
  const joined = withoutSuperseded(joinedRooms.value, rooms.value);
  const direct = withoutSuperseded(directRooms.value, rooms.value);
  return (
    <nav class="sidebar" aria-label="Rooms">
      <div class="sidebar-actions">
        <button type="button" class="primary" onClick={() => (dialog.value = 'create')}>
          New room
        </button>
        <button type="button" onClick={() => (dialog.value = 'dm')}>
          New chat
        </button>
        <button type="button" onClick={() => (dialog.value = 'join')}>
          Join by ID
        </button>
        <button type="button" onClick={() => (dialog.value = 'explore')}>
          Explore
        </button>
      </div>
      {pending.length > 0 && (
        <section aria-labelledby="invites-title">
          <h2 id="invites-title">Invites</h2>
          <ul class="rooms">
            {pending.map((r) => (
              <InviteItem key={r.roomId} room={r} />
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="rooms-title">
        <h2 id="rooms-title">Rooms</h2>
        {joined.length === 0 ? (
          <p class="muted small-text empty">No rooms yet.</p>
        ) : (
          <ul class="rooms">
            {joined.map((r) => (
              <RoomListItem key={r.roomId} room={r} />
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="dms-title">
        <h2 id="dms-title">Direct messages</h2>
        {direct.length === 0 ? (
          <p class="muted small-text empty">No chats yet.</p>
        ) : (
          <ul class="rooms">
            {direct.map((r) => (
              <RoomListItem key={r.roomId} room={r} />
            ))}
          </ul>
        )}
      </section>
      {formerRooms.value.length > 0 && (
        <section aria-labelledby="former-title">
          <h2 id="former-title">Removed from</h2>
          <ul class="rooms">
            {formerRooms.value.map((r) => (
              <RoomListItem key={r.roomId} room={r} />
            ))}
          </ul>
        </section>
      )}
    </nav>
  );
}
