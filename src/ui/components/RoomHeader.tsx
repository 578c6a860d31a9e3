import { leaveRoom, openRoom } from '../state/actions.ts';
import { currentRoom, dialog, powers, sidePanel } from '../state/store.ts';
import { Avatar } from './Avatar.tsx';

export function RoomHeader() {
  const room = currentRoom.value;
  if (!room) return null;
  const p = powers.value;
  const toggle = (panel: 'members') => (sidePanel.value = sidePanel.value === panel ? 'none' : panel);
  return (
    <header class="room-header">
      <button type="button" class="back icon" aria-label="Back to rooms" onClick={() => openRoom(null)}>
        ‹
      </button>
      <Avatar id={room.roomId} name={room.name} />
      <div class="room-title">
        <h2>{room.name}</h2>
        {room.topic && <p class="topic">{room.topic}</p>}
      </div>
      <div class="room-actions">
        {p.mine >= p.invite && (
          <button type="button" onClick={() => (dialog.value = 'invite')}>
            Invite
          </button>
        )}
        <button type="button" aria-pressed={sidePanel.value === 'members'} onClick={() => toggle('members')}>
          Members <span class="count">{room.memberCount}</span>
        </button>
        <button type="button" onClick={() => (dialog.value = 'settings')}>
          Room settings
        </button>
        <button type="button" onClick={() => (dialog.value = 'graph')}>
          Event graph
        </button>
        <button type="button" class="danger" onClick={() => leaveRoom(room.roomId)}>
          Leave
        </button>
      </div>
    </header>
  );
}
