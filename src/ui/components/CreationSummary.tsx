import { useState } from 'preact/hooks';
import type { TimelineItem } from '../api.ts';
import { nameOf, timeOf } from '../format.ts';
import { displayNames } from '../state/store.ts';
import { EventTile } from './EventTile.tsx';

/** "Alice created the room" on one line; the set-up that came with it behind "Show details". */
export function CreationSummary(props: { items: readonly TimelineItem[] }) {
  const [open, setOpen] = useState(false);
  const [create, ...rest] = props.items;
  if (!create) return null;
  return (
    <div class="creation" data-event-id={create.event_id}>
      <div class="notice-row">
        {/* The create event comes before the creator's join, so its own notice only knows their user ID. */}
        <span class="notice-text">{nameOf(create.sender, displayNames.value)} created the room</span>
        {rest.length > 0 && (
          <button type="button" class="link-button" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? 'Hide details' : `Show details (${rest.length})`}
          </button>
        )}
        <time class="ts" dateTime={new Date(create.ts).toISOString()}>
          {timeOf(create.ts)}
        </time>
      </div>
      {open && (
        <div class="creation-details">
          {rest.map((item) => (
            <EventTile key={item.event_id} item={item} continuation={false} readers={[]} />
          ))}
        </div>
      )}
    </div>
  );
}
