import type { RoomSummary } from '../api.ts';
import { previewOf } from '../preview.ts';
import { openRoom } from '../state/actions.ts';
import { currentRoomId } from '../state/store.ts';
import { Avatar } from './Avatar.tsx';

/** The lock shown on end-to-end encrypted rooms. */
export function EncryptedMark() {
  return (
    <span class="encrypted-mark" role="img" aria-label="End-to-end encrypted" title="End-to-end encrypted: only the members' devices can read its messages">
      🔒
    </span>
  );
}

/** One joined room: a button named by the room's name, with unread count and last message. */
export function RoomListItem(props: { room: RoomSummary }) {
  const r = props.room;
  const active = currentRoomId.value === r.roomId;
  return (
    <li class={active ? 'room-item active' : 'room-item'}>
      <Avatar id={r.dmUserId ?? r.roomId} name={r.name} />
      <div class="room-text">
        <button
          type="button"
          class="room-link"
          aria-current={active ? 'page' : undefined}
          aria-describedby={`room-desc-${r.roomId}`}
          onClick={() => openRoom(r.roomId)}
        >
          {r.name}
        </button>
        <span class="last" id={`room-desc-${r.roomId}`}>
          {previewOf(r)}
        </span>
      </div>
      {r.encrypted && <EncryptedMark />}
      {r.unread > 0 && (
        <span class="unread" role="status" aria-label={`${r.unread} unread`}>
          {r.unread}
        </span>
      )}
    </li>
  );
}
