import { currentRoom, sidePanel, threadRoot, timeline } from '../state/store.ts';
import { withoutEchoed } from '../state/outgoing.ts';
import { Composer } from './Composer.tsx';
import { OutgoingList } from './Outgoing.tsx';
import { ItemList } from './Timeline.tsx';

/** A thread: its root and the messages in it, with a composer that posts into it. */
export function ThreadPanel() {
  const root = threadRoot.value;
  if (!root) return null;
  const rootItem = timeline.value.find((i) => i.event_id === root);
  const items = withoutEchoed(timeline.value).filter((i) => i.inThread === root);
  return (
    <aside class="side-panel" aria-labelledby="thread-title">
      <header class="panel-head">
        <h2 id="thread-title">Thread</h2>
        <span>
          <button type="button" class="small" onClick={() => (sidePanel.value = 'threads')}>
            All threads
          </button>
          <button type="button" class="icon" aria-label="Close thread" onClick={() => (sidePanel.value = 'none')}>
            ✕
          </button>
        </span>
      </header>
      <div class="thread-log" role="log" aria-label="Thread">
        <ItemList items={rootItem ? [rootItem, ...items] : items} inThread />
        {/* My replies on their way, shown at once as *sending*, as in the main timeline. */}
        <OutgoingList thread={root} />
      </div>
      {/* After a kick or ban the thread stays readable, not writable. */}
      {currentRoom.value?.membership === 'join' && <Composer thread={root} />}
    </aside>
  );
}
