import type { RoomSummary } from '../api.ts';
import { localpart } from '../format.ts';
import { acceptInvite, declineInvite } from '../state/actions.ts';
import { Avatar } from './Avatar.tsx';

/** A pending invite (Accept/Decline) or an outstanding knock (Withdraw). */
export function InviteItem(props: { room: RoomSummary }) {
  const r = props.room;
  const knock = r.membership === 'knock';
  const inviter = r.inviterName ?? (r.inviter ? localpart(r.inviter) : 'someone');
  const line = knock ? 'You asked to join' : r.isDirect ? `${inviter} wants to chat` : `Invited by ${inviter}`;
  return (
    <li class="room-item invite" aria-label={r.name}>
      <Avatar id={r.dmUserId ?? r.roomId} name={r.name} />
      <div class="room-text">
        <span class="room-name">{r.name}</span>
        <span class="last" title={r.inviter}>
          {line}
        </span>
        <span class="invite-actions">
          {!knock && (
            <button type="button" class="small primary" onClick={() => acceptInvite(r.roomId)}>
              Accept
            </button>
          )}
          <button type="button" class="small" onClick={() => declineInvite(r.roomId)}>
            {knock ? 'Withdraw' : 'Decline'}
          </button>
        </span>
      </div>
    </li>
  );
}
