import type { Member } from '../api.ts';
import { localpart } from '../format.ts';
import { attempt, service } from '../state/actions.ts';
import { confirmation, currentRoomId, myUserId, powers, presence } from '../state/store.ts';
import { Avatar } from './Avatar.tsx';
import { PresenceDot } from './PresenceDot.tsx';

/** Room version 12's creators have infinite power (the worker sends Infinity): they are "Creator", not a number. */
function roleOf(level: number): string {
  if (level === Number.POSITIVE_INFINITY) return 'Creator';
  if (level >= 100) return 'Admin';
  if (level >= 50) return 'Moderator';
  return '';
}

/** A member with their power level and the moderation actions my power level allows. */
export function MemberRow(props: { member: Member }) {
  const m = props.member;
  const p = powers.value;
  const me = myUserId.value;
  const roomId = currentRoomId.value!;
  const outranks = p.mine > m.powerLevel;
  const name = m.displayName ?? localpart(m.userId);
  const canKick = m.userId !== me && outranks && p.mine >= p.kick && (m.membership === 'join' || m.membership === 'invite' || m.membership === 'knock');
  const canBan = m.userId !== me && outranks && p.mine >= p.ban && m.membership !== 'ban';
  const canUnban = m.membership === 'ban' && p.mine >= p.ban && p.mine >= p.kick;
  const canAdmit = m.membership === 'knock' && p.mine >= p.invite;
  return (
    <li class="member">
      <span class="avatar-wrap">
        <Avatar id={m.userId} name={name} url={m.avatarUrl} />
        <PresenceDot presence={presence.value[m.userId]} />
      </span>
      <div class="member-text">
        <span class="member-name">
          {name}
          {m.userId === me && <span class="muted"> (you)</span>}
        </span>
        <span class="muted small-text member-id" title={m.userId}>
          {m.userId}
        </span>
        <span class="small-text">
          {m.powerLevel === Number.POSITIVE_INFINITY ? 'Creator' : `Power level ${m.powerLevel}`}
          {m.powerLevel !== Number.POSITIVE_INFINITY && roleOf(m.powerLevel) && ` · ${roleOf(m.powerLevel)}`}
          {m.membership !== 'join' && ` · ${m.membership === 'ban' ? 'banned' : m.membership === 'invite' ? 'invited' : m.membership === 'knock' ? 'knocking' : m.membership}`}
        </span>
      </div>
      <div class="member-actions">
        {canAdmit && (
          <button type="button" class="small" onClick={() => attempt('Could not invite', () => service().invite(roomId, m.userId))}>
            Let in
          </button>
        )}
        {canKick && (
          <button
            type="button"
            class="small"
            aria-label={`Kick ${name}`}
            onClick={() =>
              (confirmation.value = {
                title: `Kick ${name}?`,
                text: `${name} is removed from the room and can join again if invited (or if it is public).`,
                action: 'Kick',
                run: (reason) => attempt('Could not kick', () => service().kick(roomId, m.userId, reason || undefined)),
              })
            }
          >
            Kick
          </button>
        )}
        {canBan && (
          <button
            type="button"
            class="small danger"
            aria-label={`Ban ${name}`}
            onClick={() =>
              (confirmation.value = {
                title: `Ban ${name}?`,
                text: `${name} is removed from the room and cannot come back until unbanned.`,
                action: 'Ban',
                run: (reason) => attempt('Could not ban', () => service().ban(roomId, m.userId, reason || undefined)),
              })
            }
          >
            Ban
          </button>
        )}
        {canUnban && (
          <button type="button" class="small" aria-label={`Unban ${name}`} onClick={() => attempt('Could not unban', () => service().unban(roomId, m.userId))}>
            Unban
          </button>
        )}
      </div>
    </li>
  );
}
