/**
 * Storage in the profile: how much this site stores and may store
 * (navigator.storage.estimate), whether the browser promised to keep it
 * (persist), and freeing space by dropping cached copies of other servers'
 * media (downloaded again when shown).
 */
import { useEffect, useState } from 'preact/hooks';
import { type StorageInfo, askPersistent, formatBytes, storageInfo } from '../durability.ts';
import { attempt, say, service } from '../state/actions.ts';

export function StorageSettings() {
  const [info, setInfo] = useState<StorageInfo | null>(null);
  const [busy, setBusy] = useState(false);
  const refresh = () => void storageInfo().then(setInfo);
  useEffect(refresh, []);
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
    </section>
  );
}
