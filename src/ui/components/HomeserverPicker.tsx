import { openHomeserver } from '../state/actions.ts';
import { otherHomeservers } from '../state/store.ts';

/** Other homeservers stored in this browser that no tab has open: this tab can take one over. */
export function HomeserverPicker() {
  const free = otherHomeservers.value.filter((h) => !h.inUse);
  if (free.length === 0) return null;
  return (
    <details class="picker">
      <summary>Open an existing homeserver</summary>
      <p class="muted small-text">These homeservers are stored in this browser and not open in any tab.</p>
      <ul>
        {free.map((h) => (
          <li key={h.dbName}>
            <code>{h.dbName}</code>{' '}
            <button type="button" class="small" onClick={() => openHomeserver(h.dbName)}>
              Open
            </button>
          </li>
        ))}
      </ul>
    </details>
  );
}
