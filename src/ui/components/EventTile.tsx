import type { TimelineItem } from '../api.ts';
import { nameOf, timeOf } from '../format.ts';
import { MATRIX_HTML_FORMAT } from '../html.ts';
import { openThread } from '../state/actions.ts';
import { displayNames, editing, editingInPlace, focusEvent, myUserId, presence } from '../state/store.ts';
import { Avatar } from './Avatar.tsx';
import { FileMessage } from './FileMessage.tsx';
import { FormattedBody, Markdown } from './FormattedBody.tsx';
import { ImageMessage } from './ImageMessage.tsx';
import { MessageActions } from './MessageActions.tsx';
import { MessageEditor } from './MessageEditor.tsx';
import { DeliveryState } from './Outgoing.tsx';
import { PresenceDot } from './PresenceDot.tsx';
import { ReactionBar } from './ReactionBar.tsx';

/** One timeline item: a message, a deleted message, or a state change notice. */
export function EventTile(props: { item: TimelineItem; continuation: boolean; readers: string[]; inThread?: boolean }) {
  const { item } = props;
  const names = displayNames.value;
  const sender = nameOf(item.sender, names);
  // Rich text from other Matrix clients; any other format (or none) shows the plain body.
  const html = item.format === MATRIX_HTML_FORMAT ? item.formatted_body : undefined;
  const mentionsMe = item.sender !== myUserId.value && !!item.mentions?.includes(myUserId.value);
  // Being edited: in place (the tile is the editor) or from the message box (Up); either way it is highlighted.
  const inPlace = !props.inThread && editingInPlace.value === item.event_id && item.kind === 'message';
  const beingEdited = inPlace || (!props.inThread && editing.value?.event_id === item.event_id);
  const focused = !props.inThread && focusEvent.value === item.event_id;
  if (item.kind === 'notice') {
    return (
      <div class="notice-row" data-event-id={item.event_id}>
        <span class="notice-text">{item.notice ?? `${sender} changed the room`}</span>
        <time class="ts" dateTime={new Date(item.ts).toISOString()}>
          {timeOf(item.ts)}
        </time>
      </div>
    );
  }
  return (
    <article
      class={`${props.continuation ? 'msg continuation' : 'msg'}${mentionsMe ? ' mentions-me' : ''}${beingEdited ? ' being-edited' : ''}${focused ? ' focused' : ''}`}
      data-event-id={item.event_id}
      aria-label={`${sender} at ${timeOf(item.ts)}`}
    >
      <div class="msg-gutter">
        {!props.continuation && (
          <span class="avatar-wrap">
            <Avatar id={item.sender} name={sender} />
            <PresenceDot presence={presence.value[item.sender]} />
          </span>
        )}
      </div>
      <div class="msg-main">
        {!props.continuation && (
          <div class="msg-head">
            <span class="sender" title={item.sender}>
              {sender}
            </span>{' '}
            <time class="ts" dateTime={new Date(item.ts).toISOString()}>
              {timeOf(item.ts)}
            </time>
          </div>
        )}
        {mentionsMe && <p class="mention-badge small-text">Mentions you</p>}
        {item.replyTo && (
          <blockquote class="reply-quote">
            <span class="sender">{item.replyTo.sender ? nameOf(item.replyTo.sender, names) : 'Earlier message'}</span>{' '}
            <span class="quote-body">
              <Markdown text={item.replyTo.body ?? '…'} />
            </span>
          </blockquote>
        )}
        {inPlace ? (
          <MessageEditor item={item} />
        ) : item.kind === 'redacted' ? (
          <p class="body deleted">Message deleted</p>
        ) : item.kind === 'image' && item.image ? (
          <div class="body image-body">
            <ImageMessage item={item} />
          </div>
        ) : item.file ? (
          <div class="body file-body">
            <FileMessage item={item} />
          </div>
        ) : html !== undefined ? (
          <div class="body formatted">
            <FormattedBody html={html} fallback={item.body ?? ''} />
            {item.edited && <span class="edited"> (edited)</span>}
          </div>
        ) : (
          <p class="body">
            <Markdown text={item.body ?? ''} />
            {item.edited && <span class="edited"> (edited)</span>}
          </p>
        )}
        <ReactionBar item={item} />
        <DeliveryState item={item} />
        {item.thread && !props.inThread && (
          <button type="button" class="link-button thread-link" onClick={() => openThread(item.event_id)}>
            {item.thread.count} {item.thread.count === 1 ? 'reply' : 'replies'} in thread
          </button>
        )}
        {props.readers.length > 0 && (
          <div class="readers" title={`Seen by ${props.readers.map((r) => nameOf(r, names)).join(', ')}`}>
            <span class="visually-hidden">Seen by {props.readers.map((r) => nameOf(r, names)).join(', ')}</span>
            {props.readers.slice(0, 5).map((r) => (
              <Avatar key={r} id={r} name={nameOf(r, names)} size="small" />
            ))}
          </div>
        )}
      </div>
      {!inPlace && <MessageActions item={item} {...(props.inThread ? { inThread: true } : {})} />}
    </article>
  );
}
