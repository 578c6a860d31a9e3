import { members, sidePanel } from '../state/store.ts';
import { MemberRow } from './MemberRow.tsx';

const ORDER: Record<string, number> = { join: 0, invite: 1, knock: 2, ban: 3, leave: 4 };

export function MembersPanel() {
  const list = members.value
    .filter((m) => m.membership !== 'leave')
    .sort((a, b) => (ORDER[a.membership] ?? 9) - (ORDER[b.membership] ?? 9) || b.powerLevel - a.powerLevel || a.userId.localeCompare(b.userId));
  return (
    <aside class="side-panel" aria-labelledby="members-title">
      <header class="panel-head">
        <h2 id="members-title">Members</h2>
        <button type="button" class="icon" aria-label="Close members" onClick={() => (sidePanel.value = 'none')}>
          ✕
        </button>
      </header>
      <ul class="members">
        {list.map((m) => (
          <MemberRow key={m.userId} member={m} />
        ))}
      </ul>
    </aside>
  );
}
