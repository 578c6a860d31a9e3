import { useEffect, useState } from 'preact/hooks';
import { deleteHomeserver, openHomeserver, refreshOtherHomeservers } from '../state/actions.ts';
import { describe } from '../state/directory.ts';
import { otherHomeservers } from '../state/store.ts';

/**
 * The other homeservers stored in this browser, by their person's name and
 * user ID: one no tab has open can be opened here, or deleted (after a
 * confirmation: its key, account and rooms go for good).
 */
export function HomeserverPicker(props: { open?: boolean }) {
  const [confirming, setConfirming] = useState<string | null>(null);
  const refresh = () => void refreshOtherHomeservers().catch(() => undefined);
  // Which homeservers other tabs have open changes as tabs come and go: look again when shown.
  useEffect(refresh, []);
  const list = otherHomeservers.value;
  if (list.length === 0) return null;
  return (
    <details class="picker" open={props.open} onToggle={(e) => e.currentTarget.open && refresh()}>
      <summary>Other homeservers in this browser ({list.length})</summary>
      <ul class="homeserver-list" aria-label="Other homeservers in this browser">
        {list.map((h) => {
          const { name, detail } = describe(h);
          return (
            <li key={h.dbName}>
              <span class="hs-text">
                <strong>{name}</strong>
                <span class="muted small-text">{detail}</span>
              </span>
              {h.inUse ? (
                <span class="muted small-text">Open in another tab</span>
              ) : confirming === h.dbName ? (
                <span>
                  <span class="small-text">Delete {name}'s homeserver for good? Its key, account and rooms are removed from this browser. </span>
                  <button
                    type="button"
                    class="small danger"
                    onClick={async () => {
                      if (await deleteHomeserver(h.dbName)) setConfirming(null);
                    }}
                  >
                    Delete for good
                  </button>{' '}
                  <button type="button" class="small" onClick={() => setConfirming(null)}>
                    Cancel
                  </button>
                </span>
              ) : (
                <>
                  <button type="button" class="small" aria-label={`Open ${name}'s homeserver`} onClick={() => openHomeserver(h.dbName)}>
                    Open
                  </button>
                  <button type="button" class="small" aria-label={`Delete ${name}'s homeserver`} onClick={() => setConfirming(h.dbName)}>
                    Delete
                  </button>
                </>
              )}
            </li>
          );
        })}
      </ul>
    </details>
  );
}
