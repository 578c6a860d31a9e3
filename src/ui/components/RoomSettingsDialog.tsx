import { useState } from 'preact/hooks';
import type { JsonObject } from '../../core/json.ts';
import { ACTIONS, actionLevel, whatEventTypeAllows } from '../../server/content/power-levels.ts';
import { editsBetween, levelMap, NO_POWER_EDITS, type PowerEdits, powerLevelsWithEdits, withEdits } from '../edits.ts';
import { nameOf } from '../format.ts';
import { powerWarnings } from '../roles.ts';
import { attempt, closeDialog, say, service } from '../state/actions.ts';
import { currentRoomId, displayNames, members, myUserId, powers, roomState } from '../state/store.ts';
import { Dialog } from './Dialog.tsx';
import { RoleSelect } from './RoleSelect.tsx';
import { UpgradeRoomSection } from './UpgradeRoomSection.tsx';

type Json = Record<string, unknown>;

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
  /** What a row is, in words ("Bob Stone", "change the topic"): the role select's name. */
  describe: (key: string) => string;
  usersDefault: number;
  max: number;
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
            <span class="level-what">{props.describe(k)}</span>
            <RoleSelect
              label={`Role: ${props.describe(k)}`}
              level={lvl}
              usersDefault={props.usersDefault}
              max={props.max}
              customField={false}
              onChange={(level) => onChange({ ...entries, [k]: level })}
            />
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

/**
 * Name, topic, join rules, history visibility and power levels (as roles); saves only what changed.
 *
 * The form holds the person's edits, not a copy of the state: every field they have not touched
 * shows the room's latest state (which may arrive after the dialog opens), and a save applies their
 * changes to the latest state, so a change someone else made meanwhile is not written back over.
 */
export function RoomSettingsDialog() {
  const roomId = currentRoomId.value!;
  const s = roomState.value;
  const get = (type: string): Json => (s[type]?.[''] ?? {}) as Json;
  const pl0 = get('m.room.power_levels') as JsonObject;
  const latest = {
    name: str(get('m.room.name').name),
    topic: str(get('m.room.topic').topic),
    joinRule: str(get('m.room.join_rules').join_rule, 'invite'),
    history: str(get('m.room.history_visibility').history_visibility, 'shared'),
  };
  const [edited, setEdited] = useState<Partial<typeof latest>>({});
  const shown = { ...latest, ...edited };
  const edit = (field: keyof typeof latest) => (value: string) => setEdited({ ...edited, [field]: value });
  const [powerEdits, setPowerEdits] = useState<PowerEdits>(NO_POWER_EDITS);
  const latestLevels: Record<string, number> = { users_default: actionLevel(pl0, 'users_default') };
  for (const a of ACTIONS) latestLevels[a.key] = actionLevel(pl0, a.key);
  const levels = withEdits(latestLevels, powerEdits.levels);
  const setLevel = (key: string, level: number) =>
    setPowerEdits({ ...powerEdits, levels: editsBetween(latestLevels, { ...levels, [key]: level }) });
  const latestUsers = levelMap(pl0.users);
  const latestEvents = levelMap(pl0.events);
  const users = withEdits(latestUsers, powerEdits.users);
  const events = withEdits(latestEvents, powerEdits.events);
  const [busy, setBusy] = useState(false);
  /** Warnings the person is looking at before a save goes ahead. */
  const [warnings, setWarnings] = useState<string[]>([]);
  const p = powers.value;
  const may = (type: string) => p.mine >= p.event(type);
  const names = displayNames.value;
  const me = myUserId.value;
  // Room version 12: creators outrank every level and are not listed in the power levels.
  const creators = members.value.filter((m) => m.powerLevel === Number.POSITIVE_INFINITY).map((m) => m.userId);
  const usersDefault = levels.users_default ?? 0;
  const nextPl = (): JsonObject => powerLevelsWithEdits(pl0, powerEdits);

  const apply = async () => {
    setBusy(true);
    const changes: [string, Json][] = [];
    if (shown.name !== latest.name) changes.push(['m.room.name', { name: shown.name }]);
    if (shown.topic !== latest.topic) changes.push(['m.room.topic', { topic: shown.topic }]);
    if (shown.joinRule !== latest.joinRule) changes.push(['m.room.join_rules', { join_rule: shown.joinRule }]);
    if (shown.history !== latest.history) changes.push(['m.room.history_visibility', { history_visibility: shown.history }]);
    const pl = nextPl();
    if (JSON.stringify(pl) !== JSON.stringify(pl0)) changes.push(['m.room.power_levels', pl]);
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
  const save = (e: Event) => {
    e.preventDefault();
    const w = powerWarnings(pl0, nextPl(), me, creators.includes(me));
    if (w.length && warnings.length === 0) {
      setWarnings(w);
      return;
    }
    setWarnings([]);
    void apply();
  };
  const whoIs = (userId: string) => nameOf(userId, names);

  return (
    <Dialog title="Room settings" onClose={closeDialog} wide>
      {/* Any change after a warning: the next Save checks again. */}
      <form onSubmit={save} onInput={() => warnings.length && setWarnings([])} onChange={() => warnings.length && setWarnings([])}>
        <label>
          Room name
          <input type="text" value={shown.name} disabled={!may('m.room.name')} onInput={(e) => edit('name')(e.currentTarget.value)} />
        </label>
        <label>
          Topic
          <input type="text" value={shown.topic} disabled={!may('m.room.topic')} onInput={(e) => edit('topic')(e.currentTarget.value)} />
        </label>
        <div class="two-col">
          <label>
            Who can join
            <select value={shown.joinRule} disabled={!may('m.room.join_rules')} onChange={(e) => edit('joinRule')(e.currentTarget.value)}>
              <option value="invite">Invited people</option>
              <option value="knock">People who knock, once let in</option>
              <option value="public">Anyone</option>
            </select>
          </label>
          <label>
            Who can read history
            <select
              value={shown.history}
              disabled={!may('m.room.history_visibility')}
              onChange={(e) => edit('history')(e.currentTarget.value)}
            >
              <option value="shared">Members (all history)</option>
              <option value="invited">Members since invited</option>
              <option value="joined">Members since joined</option>
              <option value="world_readable">Anyone</option>
            </select>
          </label>
        </div>
        <fieldset disabled={!may('m.room.power_levels')}>
          <legend>Roles and permissions</legend>
          <p class="muted small-text">Admin is level 100, Moderator 50, Default the level every member has unless given another.</p>
          <div class="levels">
            <div class="level">
              <span>Default role for members</span>
              <RoleSelect
                label="Default role for members"
                level={usersDefault}
                usersDefault={0}
                max={p.mine}
                onChange={(level) => setLevel('users_default', level)}
              />
            </div>
            {ACTIONS.map((a) => (
              <div key={a.key} class="level">
                <span>Who can {a.what}</span>
                <RoleSelect
                  label={`Who can ${a.what}`}
                  level={levels[a.key] ?? a.fallback}
                  usersDefault={usersDefault}
                  max={p.mine}
                  onChange={(level) => setLevel(a.key, level)}
                />
              </div>
            ))}
          </div>
          {creators.length > 0 && (
            <>
              <h3>Creators</h3>
              <ul class="plain-list">
                {creators.map((c) => (
                  <li key={c} class="level-user">
                    <span class="level-what">{whoIs(c)}</span>
                    <span class="muted small-text member-id">{c}</span>
                    <span class="role-fixed">Creator</span>
                  </li>
                ))}
              </ul>
              <p class="muted small-text">Creators of a version 12 room outrank every role; nobody can change theirs.</p>
            </>
          )}
          <LevelMap
            title="People"
            entries={users}
            onChange={(next) => setPowerEdits({ ...powerEdits, users: editsBetween(latestUsers, next) })}
            keyClass="member-id"
            addLabel="Add a person"
            placeholder="@name:server"
            valid={(k) => /^@[^:]+:.+$/.test(k) && !creators.includes(k)}
            describe={whoIs}
            usersDefault={usersDefault}
            max={p.mine}
          />
          <LevelMap
            title="Event types"
            entries={events}
            onChange={(next) => setPowerEdits({ ...powerEdits, events: editsBetween(latestEvents, next) })}
            keyClass="event-type"
            addLabel="Add an event type"
            placeholder="m.room.topic"
            valid={(k) => /^[^\s]{1,255}$/.test(k)}
            describe={(t) => `Who can ${whatEventTypeAllows(t)}`}
            usersDefault={usersDefault}
            max={p.mine}
          />
        </fieldset>
        {warnings.length > 0 && (
          <div class="warning-box" role="alert">
            <strong>Before you save</strong>
            {warnings.map((w) => (
              <p key={w}>{w}</p>
            ))}
          </div>
        )}
        <div class="dialog-actions">
          <button type="button" onClick={warnings.length ? () => setWarnings([]) : closeDialog}>
            {warnings.length ? 'Go back' : 'Cancel'}
          </button>
          <button type="submit" class={warnings.length ? 'danger' : 'primary'} disabled={busy}>
            {warnings.length ? 'Save anyway' : 'Save'}
          </button>
        </div>
      </form>
      <UpgradeRoomSection />
    </Dialog>
  );
}
