import { startAnother, takeOver } from '../state/actions.ts';
import { describe } from '../state/directory.ts';
import { elsewhere } from '../state/store.ts';

/**
 * This profile's homeserver is open in another tab (a homeserver runs in one
 * tab at a time): move it here, or start a second, separate homeserver.
 */
export function OpenElsewhere() {
  const hs = elsewhere.value;
  if (!hs) return null;
  const { name, detail } = describe(hs);
  const owner = hs.userId ? `${name}'s homeserver` : 'Your homeserver';
  return (
    <section class="card" aria-labelledby="elsewhere-title">
      <h2 id="elsewhere-title">{owner} is open in another tab</h2>
      {hs.userId && <p class="muted small-text">{detail}</p>}
      <p>A homeserver runs in one tab at a time. Switching moves it to this tab; the other tab lets it go.</p>
      <div class="elsewhere-actions">
        <button type="button" class="primary" onClick={() => void takeOver()}>
          Switch to it
        </button>
        <button type="button" onClick={() => void startAnother()}>
          Start another homeserver here (for demos)
        </button>
      </div>
      <p class="muted small-text">Another homeserver is a separate server with its own key and account, as if on another device.</p>
    </section>
  );
}
