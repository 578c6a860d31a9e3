import type { TimelineItem } from '../api.ts';
import { nameOf } from '../format.ts';
import { react, unreact } from '../state/actions.ts';
import { displayNames, myUserId } from '../state/store.ts';

/** Reactions with counts; pressing one adds yours, pressing yours again takes it back. */
export function ReactionBar(props: { item: TimelineItem }) {
  const { reactions } = props.item;
  if (reactions.length === 0) return null;
  const me = myUserId.value;
  return (
    <ul class="reactions" aria-label="Reactions">
      {reactions.map((r) => {
        const mine = r.senders.includes(me);
        const who = r.senders.map((s) => nameOf(s, displayNames.value)).join(', ');
        return (
          <li key={r.key}>
            <button
              type="button"
              class={mine ? 'reaction mine' : 'reaction'}
              aria-pressed={mine}
              title={mine ? `${who} — press to take yours back` : who}
              aria-label={`${r.key} ${r.count}, from ${who}`}
              onClick={() => (mine ? unreact(props.item.event_id, r.key) : react(props.item.event_id, r.key))}
            >
              {r.key} <span class="count">{r.count}</span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
