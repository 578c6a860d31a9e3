import { useEffect, useState } from 'preact/hooks';
import { humanError } from '../errors.ts';
import { service } from '../state/actions.ts';
import { currentRoomId, sourceEvent } from '../state/store.ts';
import { CopyButton } from './CopyButton.tsx';
import { Dialog } from './Dialog.tsx';

/** "View source": the event as this homeserver stores it, pretty-printed JSON. */
export function SourceDialog() {
  const eventId = sourceEvent.value;
  const roomId = currentRoomId.value;
  const [json, setJson] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setJson(null);
    setError(null);
    if (!eventId || !roomId) return;
    let live = true;
    service()
      .event(roomId, eventId)
      .then(
        (d) => live && setJson(JSON.stringify((d as { event: unknown }).event, null, 2)),
        (err: unknown) => live && setError(humanError(err).text),
      );
    return () => {
      live = false;
    };
  }, [eventId, roomId]);
  if (!eventId) return null;
  const close = () => (sourceEvent.value = null);
  return (
    <Dialog title="Event source" onClose={close} wide>
      <p class="muted small-text member-id">{eventId}</p>
      {error && <p class="error-text">{error}</p>}
      {json === null && !error && <p class="muted">Loading…</p>}
      {json !== null && (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable block must be reachable by keyboard
        <pre class="event-source" tabIndex={0}>
          {json}
        </pre>
      )}
      <div class="dialog-actions">
        {json !== null && <CopyButton text={json} label="Copy source" visible="Copy" />}
        <button type="button" onClick={close}>
          Done
        </button>
      </div>
    </Dialog>
  );
}
