import { useEffect, useState } from 'preact/hooks';
import type { Member } from '../api.ts';
import { localpart } from '../format.ts';
import { attempt, service } from '../state/actions.ts';
import { roleLabel } from '../../server/content/power-levels.ts';
import { confirmation, currentRoomId, myUserId, powers, presence, roomState } from '../state/store.ts';
import { refreshTrust, startVerification, verifiedPeople } from '../state/verification.ts';
import { Avatar } from './Avatar.tsx';
import { PresenceDot } from './PresenceDot.tsx';
import { RoleSelect } from './RoleSelect.tsx';

/** The room's default level for members (who have no entry of their own). */
function usersDefault(): number {
  const pl = roomState.value['m.room.power_levels']?.[''] ?? {};
  return typeof pl.users_default === 'number' ? pl.users_default : 0;
}

/** Gives `userId` a power level: a new power-levels event, their entry dropped when it is the default. */
async function setLevel(roomId: string, userId: string, level: number): Promise<unknown> {
  const pl = (roomState.value['m.room.power_levels']?.[''] ?? {}) as Record<string, unknown>;
  const users = { ...((pl.users ?? {}) as Record<string, number>) };
  if (level === usersDefault()) delete users[userId];
  else users[userId] = level;
  return attempt('Could not change the role', () => service().setState(roomId, 'm.room.power_levels', '', { ...pl, users } as never));
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
  // Room version 12's creators have infinite power (the worker sends Infinity): "Creator", which nobody can change.
  const creator = m.powerLevel === Number.POSITIVE_INFINITY;
  const byDefault = usersDefault();
  // Roles are mine to give up to my own level, to myself or to people below me.
  const canSetRole = !creator && p.mine >= p.event('m.room.power_levels') && (m.userId === me || outranks);
  // Bumped on each pick: the select is drawn again from the level the room actually has (a cancelled confirmation).
  const [picks, setPicks] = useState(0);
  // Emoji verification of another member who is in the room (their devices have keys once joined).
  const canVerify = m.userId !== me && m.membership === 'join';
  const verified = verifiedPeople.value[m.userId] === true;
  useEffect(() => {
    if (canVerify) void refreshTrust(m.userId);
  }, [m.userId, canVerify]);
  const changeRole = (level: number) => {
    setPicks(picks + 1);
    if (level === m.powerLevel) return;
    if (m.userId === me && level < m.powerLevel) {
      confirmation.value = {
        title: 'Lower your own role?',
        text: `You are about to go from ${roleLabel(m.powerLevel, byDefault)} to ${roleLabel(level, byDefault)}. Only someone with a higher role can give it back.`,
        action: 'Lower my role',
        noReason: true,
        run: () => setLevel(roomId, m.userId, level),
      };
      return;
    }
    void setLevel(roomId, m.userId, level);
  };
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
          {verified && (
            <span class="verified-badge" title="You verified this person by comparing emoji">
              {' '}
              ✓ Verified
            </span>
          )}
        </span>
        <span class="muted small-text member-id" title={m.userId}>
          {m.userId}
        </span>
        <span class="small-text">
          {creator ? 'Creator' : `Power level ${m.powerLevel} · ${roleLabel(m.powerLevel, byDefault)}`}
          {m.membership !== 'join' && ` · ${m.membership === 'ban' ? 'banned' : m.membership === 'invite' ? 'invited' : m.membership === 'knock' ? 'knocking' : m.membership}`}
        </span>
      </div>
      <div class="member-actions">
        {canVerify && !verified && (
          <button type="button" class="small" aria-label={`Verify ${name}`} onClick={() => startVerification(m.userId)}>
            Verify
          </button>
        )}
        {canSetRole && (
          <RoleSelect
            key={`${m.powerLevel}-${picks}`}
            label={`Role of ${name}`}
            level={m.powerLevel}
            usersDefault={byDefault}
            max={p.mine}
            customField={false}
            noCustom
            onChange={changeRole}
          />
        )}
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
