import { useState } from 'preact/hooks';
import { attempt, closeDialog, say, service } from '../state/actions.ts';
import { currentRoomId, powers, roomState } from '../state/store.ts';
import { Dialog } from './Dialog.tsx';

type Json = Record<string, unknown>;

const LEVEL_FIELDS = [
  ['users_default', 'Default for members', 0],
  ['events_default', 'Send messages', 0],
  ['state_default', 'Change settings', 50],
  ['invite', 'Invite', 0],
  ['kick', 'Kick', 50],
  ['ban', 'Ban', 50],
  ['redact', "Delete others' messages", 50],
] as const;

function str(v: unknown, d = ''): string {
  return typeof v === 'string' ? v : d;
}

/**
 * A power-level map (users or event types → level): each entry editable and
 * removable, new entries added at 50 (the usual moderator level).
 */
function LevelMap(props: {
  title: string;
  entries: Record<string, number>;
  onChange: (next: Record<string, number>) => void;
  keyClass: string;
  addLabel: string;
  placeholder: string;
  valid: (key: string) => boolean;
}) {
  const [draft, setDraft] = useState('');
  const { entries, onChange } = props;
  const key = draft.trim();
  return (
    <>
      <h3>{props.title}</h3>
      <ul class="plain-list">
        {Object.entries(entries).map(([k, lvl]) => (
          <li key={k} class="level-user">
            <label class="level">
              <span class={props.keyClass}>{k}</span>
              <input type="number" value={lvl} onInput={(e) => onChange({ ...entries, [k]: Number(e.currentTarget.value) || 0 })} />
            </label>
            <button
              type="button"
              class="small"
              aria-label={`Remove ${k} from power levels`}
              onClick={() => {
                const next = { ...entries };
                delete next[k];
                onChange(next);
              }}
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
      <div class="add-user">
        <label>
          {props.addLabel}
          <input type="text" placeholder={props.placeholder} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
        </label>
        <button
          type="button"
          class="small"
          aria-label={`Add to ${props.title}`}
          disabled={!props.valid(key) || key in entries}
          onClick={() => {
            onChange({ ...entries, [key]: 50 });
            setDraft('');
          }}
        >
          Add
        </button>
      </div>
    </>
  );
}

/** Name, topic, join rules, history visibility and power levels; saves only what changed. */
export function RoomSettingsDialog() {
  const roomId = currentRoomId.value!;
  const s = roomState.value;
  const get = (type: string): Json => (s[type]?.[''] ?? {}) as Json;
  const pl0 = get('m.room.power_levels');
  const initial = {
    name: str(get('m.room.name').name),
    topic: str(get('m.room.topic').topic),
    joinRule: str(get('m.room.join_rules').join_rule, 'invite'),
    history: str(get('m.room.history_visibility').history_visibility, 'shared'),
  };
  const [name, setName] = useState(initial.name);
  const [topic, setTopic] = useState(initial.topic);
  const [joinRule, setJoinRule] = useState(initial.joinRule);
  const [history, setHistory] = useState(initial.history);
  const [levels, setLevels] = useState<Record<string, number>>(() => {
    const out: Record<string, number> = {};
    for (const [k, , d] of LEVEL_FIELDS) out[k] = typeof pl0[k] === 'number' ? (pl0[k] as number) : d;
    return out;
  });
  const [users, setUsers] = useState<Record<string, number>>(() => ({ ...((pl0.users ?? {}) as Record<string, number>) }));
  const [events, setEvents] = useState<Record<string, number>>(() => ({ ...((pl0.events ?? {}) as Record<string, number>) }));
  const [busy, setBusy] = useState(false);
  const p = powers.value;
  const may = (type: string) => p.mine >= p.event(type);

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const changes: [string, Json][] = [];
    if (name !== initial.name) changes.push(['m.room.name', { name }]);
    if (topic !== initial.topic) changes.push(['m.room.topic', { topic }]);
    if (joinRule !== initial.joinRule) changes.push(['m.room.join_rules', { join_rule: joinRule }]);
    if (history !== initial.history) changes.push(['m.room.history_visibility', { history_visibility: history }]);
    const nextPl: Json = { ...pl0, ...levels, users, events };
    if (JSON.stringify(nextPl) !== JSON.stringify(pl0)) changes.push(['m.room.power_levels', nextPl]);
    let ok = true;
    for (const [type, content] of changes) {
      ok = await attempt(`Could not change ${type}`, () => service().setState(roomId, type, '', content as never));
      if (!ok) break;
    }
    setBusy(false);
    if (ok) {
      if (changes.length) say('Room settings saved');
      closeDialog();
    }
  };

  return (
    <Dialog title="Room settings" onClose={closeDialog} wide>
      <form onSubmit={save}>
        <label>
          Room name
          <input type="text" value={name} disabled={!may('m.room.name')} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Topic
          <input type="text" value={topic} disabled={!may('m.room.topic')} onInput={(e) => setTopic(e.currentTarget.value)} />
        </label>
        <div class="two-col">
          <label>
            Who can join
            <select value={joinRule} disabled={!may('m.room.join_rules')} onChange={(e) => setJoinRule(e.currentTarget.value)}>
              <option value="invite">Invited people</option>
              <option value="knock">People who knock, once let in</option>
              <option value="public">Anyone</option>
            </select>
          </label>
          <label>
            Who can read history
            <select
              value={history}
              disabled={!may('m.room.history_visibility')}
              onChange={(e) => setHistory(e.currentTarget.value)}
            >
              <option value="shared">Members (all history)</option>
              <option value="invited">Members since invited</option>
              <option value="joined">Members since joined</option>
              <option value="world_readable">Anyone</option>
            </select>
          </label>
        </div>
        <fieldset disabled={!may('m.room.power_levels')}>
          <legend>Power levels</legend>
          <div class="levels">
            {LEVEL_FIELDS.map(([k, label]) => (
              <label key={k} class="level">
                {label}
                <input
                  type="number"
                  value={levels[k]}
                  onInput={(e) => setLevels({ ...levels, [k]: Number(e.currentTarget.value) || 0 })}
                />
              </label>
            ))}
          </div>
          <LevelMap
            title="People"
            entries={users}
            onChange={setUsers}
            keyClass="member-id"
            addLabel="Add a person"
            placeholder="@name:server"
            valid={(k) => /^@[^:]+:.+$/.test(k)}
          />
          <LevelMap
            title="Event types"
            entries={events}
            onChange={setEvents}
            keyClass="event-type"
            addLabel="Add an event type"
            placeholder="m.room.topic"
            valid={(k) => /^[^\s]{1,255}$/.test(k)}
          />
        </fieldset>
        <div class="dialog-actions">
          <button type="button" onClick={closeDialog}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Save
          </button>
        </div>
      </form>
    </Dialog>
  );
}
