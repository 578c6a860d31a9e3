import type { TimelineItem } from '../api.ts';
import { nameOf, timeOf } from '../format.ts';
import { markdownText } from '../preview.ts';
import { openThread } from '../state/actions.ts';
import { displayNames, sidePanel, timeline } from '../state/store.ts';

export interface ThreadSummary {
  root: TimelineItem;
  count: number;
  latest?: TimelineItem;
}

/** The room's threads in the loaded window, the one with the newest reply first. */
export function threadsOf(items: readonly TimelineItem[]): ThreadSummary[] {
  const at = new Map(items.map((item, i) => [item.event_id, i]));
  const byId = new Map(items.map((item) => [item.event_id, item]));
  return items
    .filter((item) => item.thread && !item.inThread)
    .map((root) => {
      const latest = byId.get(root.thread!.latestEventId);
      return { root, count: root.thread!.count, ...(latest ? { latest } : {}) };
    })
    .sort((a, b) => (at.get(b.root.thread!.latestEventId) ?? 0) - (at.get(a.root.thread!.latestEventId) ?? 0));
}

function textOf(item: TimelineItem): string {
  if (item.kind === 'redacted') return 'Message deleted';
  return markdownText(item.body ?? '').replace(/\s+/g, ' ').trim();
}

/** A panel listing the room's threads: each root's text, its reply count and latest reply; a click opens it. */
export function ThreadListPanel() {
  const names = displayNames.value;
  const threads = threadsOf(timeline.value);
  return (
    <aside class="side-panel" aria-labelledby="threads-title">
      <header class="panel-head">
        <h2 id="threads-title">Threads</h2>
        <button type="button" class="icon" aria-label="Close threads" onClick={() => (sidePanel.value = 'none')}>
          ✕
        </button>
      </header>
      {threads.length === 0 ? (
        <p class="muted panel-body">No threads yet. Start one from a message's Thread button.</p>
      ) : (
        <ul class="plain-list thread-list">
          {threads.map((t) => (
            <li key={t.root.event_id}>
              <button type="button" class="thread-item" onClick={() => openThread(t.root.event_id)}>
                <span class="thread-root">
                  <strong>{nameOf(t.root.sender, names)}</strong>: {textOf(t.root)}
                </span>
                <span class="small-text">
                  {t.count} {t.count === 1 ? 'reply' : 'replies'}
                </span>
                {t.latest && (
                  <span class="muted small-text thread-latest">
                    Latest: {nameOf(t.latest.sender, names)}: {textOf(t.latest)} · {timeOf(t.latest.ts)}
                  </span>
                )}
              </button>
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}
