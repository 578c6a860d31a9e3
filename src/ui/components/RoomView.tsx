import { forgetRoom } from '../state/actions.ts';
import { currentMembership, currentRoom } from '../state/store.ts';
import { Composer } from './Composer.tsx';
import { RoomHeader } from './RoomHeader.tsx';
import { RoomUpgradeBanner } from './RoomUpgradeBanner.tsx';
import { Timeline } from './Timeline.tsx';
import { TypingIndicator } from './TypingIndicator.tsx';

/** Why the person is no longer in the room: "Alice removed you: spam". */
export function removalText(room: { membership: string; removedBy?: { userId: string; displayName?: string; reason?: string } }): string {
  const by = room.removedBy;
  if (!by) return room.membership === 'ban' ? 'You are banned from this room.' : 'You are no longer in this room.';
  const who = by.displayName ?? by.userId;
  const what = room.membership === 'ban' ? `${who} banned you` : `${who} removed you`;
  return by.reason ? `${what}: ${by.reason}` : `${what}.`;
}

export function RoomView() {
  // The membership alone, not the room's summary: that changes with every message, and this
  // view re-rendering re-renders the whole timeline's list.
  const membership = currentMembership.value;
  if (membership === null) return <p class="muted center">Opening the room…</p>;
  const room = membership === 'leave' || membership === 'ban' ? currentRoom.value : null;
  if (room) {
    return (
      <div class="room-view">
        <RoomHeader />
        <RoomUpgradeBanner />
        <Timeline />
        <div class="removed-card" role="status">
          <p>
            <strong>{removalText(room)}</strong>
          </p>
          <p class="muted small-text">
            You can still read the history you were allowed to see.
            {room.membership === 'ban' ? ' You cannot rejoin while banned.' : ' You can come back if someone invites you again.'}
          </p>
          <button type="button" onClick={() => forgetRoom(room.roomId)}>
            Forget this room
          </button>
        </div>
      </div>
    );
  }
  if (membership !== 'join') {
    return (
      <div class="room-view">
        <RoomHeader />
        <p class="muted center">You are not in this room ({membership}).</p>
      </div>
    );
  }
  return (
    <div class="room-view">
      <RoomHeader />
      <RoomUpgradeBanner />
      <Timeline />
      <TypingIndicator />
      <Composer />
    </div>
  );
}
