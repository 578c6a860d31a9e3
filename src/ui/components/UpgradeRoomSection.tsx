import { useState } from 'preact/hooks';
import { attempt, closeDialog, loadRooms, openRoom, say, service } from '../state/actions.ts';
import { currentRoom, powers } from '../state/store.ts';

/** The versions offered, newest first; I.1 says what it is. */
const UPGRADE_VERSIONS: { id: string; label: string }[] = [
  { id: '12', label: '12 (recommended)' },
  { id: '11', label: '11' },
  { id: '10', label: '10' },
  { id: 'I.1', label: 'I.1 — MIMI draft; standard clients do not show its messages (m.message)' },
];

/** Upgrades `roomId` (HomeserverClient.upgradeRoom in the worker) and opens the new room; says who could not be invited. */
async function upgradeRoom(roomId: string, version: string): Promise<void> {
  let result: Awaited<ReturnType<ReturnType<typeof service>['upgradeRoom']>> | undefined;
  const ok = await attempt('Could not upgrade the room', async () => {
    result = await service().upgradeRoom(roomId, version);
  });
  if (!ok || !result) return;
  closeDialog();
  await loadRooms();
  openRoom(result.replacementRoom);
  const missed = result.notInvited.length;
  say(
    missed === 0
      ? `Room upgraded to version ${version}`
      : `Room upgraded to version ${version}; ${missed} ${missed === 1 ? 'member was' : 'members were'} not reachable to invite — they can still follow from the old room`,
  );
}

/**
 * "Upgrade room" in room settings, for those who may send m.room.tombstone: a new room of the
 * chosen version continues this one; members are invited and this room is closed for talking.
 */
export function UpgradeRoomSection() {
  const room = currentRoom.value;
  const p = powers.value;
  const [version, setVersion] = useState('12');
  const [busy, setBusy] = useState(false);
  if (room?.membership !== 'join' || room.replacement || p.mine < p.event('m.room.tombstone')) return null;
  return (
    <fieldset class="upgrade-room">
      <legend>Upgrade room</legend>
      <p class="muted small-text">
        This room is version {room.roomVersion}. Upgrading makes a new room of the chosen version with this room's name, topic and
        permissions; members are invited to it and this room is closed for new messages, linking to the new one.
      </p>
      <div class="row">
        <label>
          New version
          <select value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
            {UPGRADE_VERSIONS.map((v) => (
              <option key={v.id} value={v.id}>
                {v.label}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          class="danger"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            await upgradeRoom(room.roomId, version);
            setBusy(false);
          }}
        >
          Upgrade room
        </button>
      </div>
    </fieldset>
  );
}
