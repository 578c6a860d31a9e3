import type { TimelineItem } from '../api.ts';
import { nameOf, timeOf } from '../format.ts';
import { type Outgoing, discard, lastSentByMe, outgoing, resend, retryDelivery, undelivered } from '../state/outgoing.ts';
import { currentRoomId, displayNames, myUserId } from '../state/store.ts';
import { FormattedBody, Markdown } from './FormattedBody.tsx';

function servers(n: number): string {
  return `${n} ${n === 1 ? 'server' : 'servers'}`;
}

/** Under one of my messages: *sent*, or *not delivered to N servers* with a retry. Nothing on others' messages. */
export function DeliveryState(props: { item: TimelineItem }) {
  const { item } = props;
  const me = myUserId.value;
  if (item.sender !== me || item.kind === 'notice' || item.kind === 'redacted' || item.inThread) return null;
  const waiting = undelivered.value[item.event_id];
  if (waiting) {
    return (
      <p class="delivery warn small-text" data-state="undelivered">
        Not delivered to {servers(waiting)} yet{' '}
        <button type="button" class="link-button" onClick={retryDelivery}>
          Retry now
        </button>
      </p>
    );
  }
  // "Sent" on my latest message only: the others are all sent too, unless they say otherwise.
  if (lastSentByMe.value !== item.event_id) return null;
  return (
    <p class="delivery muted small-text" data-state="sent">
      Sent
    </p>
  );
}

function Echo(props: { o: Outgoing }) {
  const { o } = props;
  const me = myUserId.value;
  const name = nameOf(me, displayNames.value);
  return (
    <article class="msg outgoing" data-state={o.state} aria-label={`${name} at ${timeOf(o.ts)}, ${o.state === 'sending' ? 'sending' : 'not sent'}`}>
      <div class="msg-gutter" />
      <div class="msg-main">
        {o.html !== undefined ? (
          <div class="body formatted">
            <FormattedBody html={o.html} fallback={o.body} />
          </div>
        ) : (
          <p class="body">
            <Markdown text={o.body} />
          </p>
        )}
        {o.state === 'sending' ? (
          <p class="delivery muted small-text" data-state="sending" role="status">
            Sending…
          </p>
        ) : (
          <p class="delivery warn small-text" data-state="failed" role="alert">
            {o.held ? (
              // The homeserver keeps it (it is part of the room already): Retry saves it, and there is no discarding it.
              <>Not saved yet: this browser has no room left for this site’s data. The message is kept; free space, then </>
            ) : (
              <>Not sent: {o.error} </>
            )}
            <button type="button" class="link-button" onClick={() => resend(o.id)}>
              Retry
            </button>
            {!o.held && (
              <>
                {' '}
                <button type="button" class="link-button" onClick={() => discard(o.id)}>
                  Discard
                </button>
              </>
            )}
          </p>
        )}
      </div>
    </article>
  );
}

/** The local echoes of my messages to the open room's main timeline (or to `thread`), after its last item. */
export function OutgoingList(props: { thread?: string }) {
  const roomId = currentRoomId.value;
  const mine = outgoing.value.filter((o) => o.roomId === roomId && o.thread === props.thread);
  return (
    <>
      {mine.map((o) => (
        <Echo key={o.id} o={o} />
      ))}
    </>
  );
}

