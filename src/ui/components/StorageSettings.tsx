/**
 * Storage in the profile: how much this site stores and may store
 * (navigator.storage.estimate), whether the browser promised to keep it
 * (persist), and freeing space: dropping cached copies of other servers'
 * media (downloaded again when shown), and forgetting rooms the person left
 * (their history is deleted from this device: src/server/purge.ts).
 */
import { useEffect, useState } from 'preact/hooks';
import { type PurgeSummary, type StorageInfo, askPersistent, forgetNotice, formatBytes, storageInfo } from '../durability.ts';
import { attempt, loadRooms, say, service } from '../state/actions.ts';

interface LeftRoom {
  roomId: string;
  name: string;
  events: number;
  bytes: number;
}

export function StorageSettings() {
  const [info, setInfo] = useState<StorageInfo | null>(null);
  const [busy, setBusy] = useState(false);
  const [left, setLeft] = useState<LeftRoom[]>([]);
  /** Bytes freed by forgetting rooms since the dialog opened. */
  const [freed, setFreed] = useState(0);
  const refresh = () => {
    void storageInfo().then(setInfo);
    void service()
      .leftRooms()
      .then(setLeft)
      .catch(() => setLeft([]));
  };
  useEffect(refresh, []);
  const forget = async (room: LeftRoom) => {
    setBusy(true);
    let result: PurgeSummary | undefined;
    const ok = await attempt(`Could not forget ${room.name}`, async () => {
      result = await service().forget(room.roomId);
    });
    setBusy(false);
    if (ok) {
      say(forgetNotice(result));
      if (result && !result.held) setFreed((n) => n + result!.bytes);
      await loadRooms();
    }
    refresh();
  };
  const used = info?.usage;
  const quota = info?.quota;
  return (
    <section class="storage-settings" aria-labelledby="storage-title">
      <h3 id="storage-title">Storage</h3>
      <p data-testid="storage-used">
        {used !== undefined && quota !== undefined ? (
          <>
            This site stores <strong>{formatBytes(used)}</strong> of the <strong>{formatBytes(quota)}</strong> this browser allows it.
            <meter min={0} max={quota} value={used} aria-label="Share of the storage allowance used" />
          </>
        ) : (
          'This browser does not say how much this site stores.'
        )}
      </p>
      <p data-testid="storage-persisted">
        {info?.persisted
          ? 'The browser keeps this data until you delete it.'
          : 'The browser may delete this data when the disk runs low (unless it is backed up, your homeserver would be lost).'}{' '}
        {info && !info.persisted && (
          <button
            type="button"
            class="small"
            onClick={async () => {
              const granted = await askPersistent();
              say(granted ? 'The browser will keep this data' : 'The browser did not promise to keep this data (bookmarking or installing the app helps)');
              refresh();
            }}
          >
            Ask to keep it
          </button>
        )}
      </p>
      <p>
        <button
          type="button"
          class="small"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            let freed: { count: number; bytes: number } | undefined;
            const ok = await attempt('Could not free space', async () => {
              freed = await service().freeSpace();
            });
            setBusy(false);
            if (ok && freed) say(freed.count ? `Dropped ${freed.count} cached images and files (${formatBytes(freed.bytes)})` : 'No cached media to drop');
            refresh();
          }}
        >
          Free space: drop cached media
        </button>{' '}
        <span class="muted small-text">Other people's images and files are downloaded again when shown.</span>
      </p>
      {left.length > 0 && (
        <div class="left-rooms">
          <p>
            Free space: forget rooms you left. <span class="muted small-text">Their history is deleted from this device; you can still be invited back.</span>
          </p>
          <ul aria-label="Rooms you left">
            {left.map((r) => (
              <li key={r.roomId}>
                <span class="ellipsis" title={r.roomId}>
                  {r.name}
                </span>{' '}
                <span class="muted small-text">
                  about {formatBytes(r.bytes)} ({r.events} events)
                </span>{' '}
                <button type="button" class="small" disabled={busy} onClick={() => forget(r)} aria-label={`Forget ${r.name}`}>
                  Forget
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
      {freed > 0 && <p data-testid="storage-freed">Forgetting rooms freed about {formatBytes(freed)}.</p>}
    </section>
  );
}
