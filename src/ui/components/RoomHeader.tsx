import { useState } from 'preact/hooks';
import { EncryptedMark } from './RoomListItem.tsx';
import { leaveRoom, openRoom } from '../state/actions.ts';
import { confirmation, currentRoom, dialog, powers, sidePanel } from '../state/store.ts';
import { Avatar } from './Avatar.tsx';

export function RoomHeader() {
  const room = currentRoom.value;
  // At phone width the actions live behind a "More" button.
  const [menuOpen, setMenuOpen] = useState(false);
  if (!room) return null;
  const p = powers.value;
  const joined = room.membership === 'join';
  const toggle = (panel: 'members' | 'threads') => (sidePanel.value = sidePanel.value === panel ? 'none' : panel);
  /** Runs a menu action and closes the menu. */
  const pick = (fn: () => void) => () => {
    setMenuOpen(false);
    fn();
  };
  return (
    <header class="room-header">
      <button type="button" class="back icon" aria-label="Back to rooms" onClick={() => openRoom(null)}>
        ‹
      </button>
      <Avatar id={room.dmUserId ?? room.roomId} name={room.name} />
      <div class="room-title">
        <h2>{room.name}</h2>
        {room.encrypted && <EncryptedMark />}
        {room.topic && <p class="topic">{room.topic}</p>}
      </div>
      <button
        type="button"
        class="more-toggle"
        aria-expanded={menuOpen}
        aria-controls="room-actions"
        onClick={() => setMenuOpen(!menuOpen)}
      >
        More
      </button>
      <div id="room-actions" class={menuOpen ? 'room-actions open' : 'room-actions'}>
        {joined && p.mine >= p.invite && (
          <button type="button" onClick={pick(() => (dialog.value = 'invite'))}>
            Invite
          </button>
        )}
        <button type="button" aria-pressed={sidePanel.value === 'members'} onClick={pick(() => toggle('members'))}>
          Members <span class="count">{room.memberCount}</span>
        </button>
        <button type="button" aria-pressed={sidePanel.value === 'threads'} onClick={pick(() => toggle('threads'))}>
          Threads
        </button>
        {joined && (
          <button type="button" onClick={pick(() => (dialog.value = 'settings'))}>
            Room settings
          </button>
        )}
        <button type="button" onClick={pick(() => (dialog.value = 'graph'))}>
          Event graph
        </button>
        {joined && (
          <button
            type="button"
            class="danger"
            onClick={pick(
              () =>
                (confirmation.value = {
                  title: `Leave ${room.name}?`,
                  text:
                    room.joinRule === 'public'
                      ? 'You can join again later: the room is public.'
                      : 'To come back you need a new invite from someone in the room.',
                  action: 'Leave',
                  run: (reason) => leaveRoom(room.roomId, reason),
                }),
            )}
          >
            Leave
          </button>
        )}
      </div>
    </header>
  );
}
