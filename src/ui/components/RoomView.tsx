import { currentRoom } from '../state/store.ts';
import { Composer } from './Composer.tsx';
import { RoomHeader } from './RoomHeader.tsx';
import { Timeline } from './Timeline.tsx';
import { TypingIndicator } from './TypingIndicator.tsx';

export function RoomView() {
  const room = currentRoom.value;
  if (!room) return <p class="muted center">Opening the room…</p>;
  if (room.membership !== 'join') {
    return (
      <div class="room-view">
        <RoomHeader />
        <p class="muted center">You are not in this room ({room.membership}).</p>
      </div>
    );
  }
  return (
    <div class="room-view">
      <RoomHeader />
      <Timeline />
      <TypingIndicator />
      <Composer />
    </div>
  );
}
