import type { FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorText } from '../api.ts';
import { closeDialog } from '../state/actions.ts';
import { currentRoomId } from '../state/store.ts';
import { Dialog } from './Dialog.tsx';
import { ErrorNote } from './ErrorNote.tsx';

/** Loads the event-graph view (and its layout library) only when asked for. */
export function GraphDialog() {
  const [View, setView] = useState<FunctionComponent<{ roomId: string }> | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    import('../graph/EventGraph.tsx').then(
      (m) => setView(() => m.EventGraph),
      (e: unknown) => setError(errorText(e)),
    );
  }, []);
  const roomId = currentRoomId.value;
  return (
    <Dialog title="Event graph" onClose={closeDialog} wide>
      {error && <ErrorNote error={error} />}
      {!View && !error && (
        <p class="muted" role="status">
          Loading the graph view…
        </p>
      )}
      {View && roomId && <View roomId={roomId} />}
    </Dialog>
  );
}
