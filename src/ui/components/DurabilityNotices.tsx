/**
 * Notices about where this homeserver's data went: the browser evicted the
 * homeservers this page remembers (durability.ts), or this homeserver moved
 * to another place and this copy is read-only (src/server/moved.ts).
 */
import { useEffect } from 'preact/hooks';
import { checkEviction, dismissEviction, evicted } from '../durability.ts';
import { describe } from '../state/directory.ts';
import { session } from '../state/store.ts';

export function DurabilityNotices() {
  useEffect(() => {
    void checkEviction();
  }, []);
  const gone = evicted.value;
  const moved = session.value?.movedAway;
  return (
    <>
      {gone.length > 0 && (
        <section class="banner warning-box" role="alert" aria-label="Stored data was deleted">
          <span>
            This browser deleted this site's stored data
            {` (${gone.map((e) => describe(e).detail).join(', ')})`}, probably to free disk space. That homeserver's key, account and
            rooms are gone from here; this is a new homeserver. If you made a backup file, restore it with “Restore from a backup file”.
          </span>
          <button type="button" onClick={dismissEviction}>
            I understand
          </button>
        </section>
      )}
      {moved && (
        <section class="banner warning-box" role="status" aria-label="This homeserver moved">
          <span>
            This homeserver moved to another place on {new Date(moved.ts).toLocaleDateString()}
            {moved.to ? ` (${moved.to})` : ''}. This copy is read-only: it sends nothing and is off the network, because one server
            name must not sign messages in two places.
          </span>
        </section>
      )}
    </>
  );
}
