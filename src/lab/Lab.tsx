/**
 * The lab page: K homeservers, each in its own worker, a scenario driving
 * them, and three views — the network (click a link to cut or heal it), each
 * server's view of the room side by side, and one server's event graph.
 */
import { signal, useComputed, useSignal } from '@preact/signals';
import type { ComponentType } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Scenario, parseScenario } from '../sim/scenario.ts';
import { errorText } from '../ui/api.ts';
import type { GraphSource } from '../ui/graph/EventGraph.tsx';
import { roomEventListeners } from '../ui/state/actions.ts';
import { LabRun, describeStep, scenarioProblem, unsupportedReason } from './runner.ts';
import { SHIPPED } from './scenarios.ts';

const DEFAULT = SHIPPED.find((s) => s.scenario.name === 'split-brain-topic-race') ?? SHIPPED[0];

const scenario = signal<Scenario | null>(DEFAULT?.scenario ?? null);
const run = signal<LabRun | null>(null);
const loadError = signal('');
/** The server whose event graph is shown. */
const graphServer = signal<string>('');
const running = signal(false);

function newRun(s: Scenario | null): void {
  run.value?.dispose();
  running.value = false;
  run.value = null;
  if (!s || scenarioProblem(s)) return;
  const r = new LabRun(s);
  r.onRoomUpdate = (label, roomId) => {
    if (label === graphServer.value) for (const l of roomEventListeners) l(roomId);
  };
  graphServer.value = s.servers[0] ?? '';
  run.value = r;
}

function choose(s: Scenario): void {
  loadError.value = '';
  scenario.value = s;
  newRun(s);
}

async function loadFile(file: File): Promise<void> {
  try {
    choose(parseScenario(await file.text()));
  } catch (err) {
    loadError.value = `${file.name}: ${errorText(err)}`;
  }
}

export function Lab() {
  useEffect(() => {
    newRun(scenario.value);
    const bye = () => run.value?.dispose();
    window.addEventListener('pagehide', bye);
    return () => window.removeEventListener('pagehide', bye);
  }, []);
  return (
    <div class="lab">
      <header class="lab-head">
        <h1>Hearth lab</h1>
        <p class="lab-intro">
          Each box is a separate chat server running in its own worker in this tab, with its own storage. They talk to each other over the
          network, like servers on different continents. <strong>Cut links to split the network</strong>: each side keeps working on its
          own — people keep chatting, someone changes the room's topic. <strong>Heal the links and watch them reconcile</strong>: every
          server ends up with every message and agrees on one topic, without any central server deciding. (The protocol is Matrix; the
          graph at the bottom shows the history each server holds, with its forks and merges.)
        </p>
      </header>
      <ScenarioPanel />
      {run.value ? <RunView key={run.value} run={run.value} /> : null}
    </div>
  );
}

function ScenarioPanel() {
  const drag = useSignal(false);
  const s = scenario.value;
  const problem = s ? scenarioProblem(s) : undefined;
  const skipped = s ? s.steps.filter((st) => unsupportedReason(st)).length : 0;
  return (
    <section
      class={drag.value ? 'lab-panel lab-scenario dragging' : 'lab-panel lab-scenario'}
      aria-labelledby="lab-scenario-h"
      onDragOver={(e) => {
        e.preventDefault();
        drag.value = true;
      }}
      onDragLeave={() => {
        drag.value = false;
      }}
      onDrop={(e) => {
        e.preventDefault();
        drag.value = false;
        const f = e.dataTransfer?.files[0];
        if (f) void loadFile(f);
      }}
    >
      <h2 id="lab-scenario-h">Scenario</h2>
      <div class="lab-row">
        <label>
          Scenario{' '}
          <select
            value={SHIPPED.find((x) => x.scenario === s)?.file ?? ''}
            onChange={(e) => {
              const f = SHIPPED.find((x) => x.file === (e.currentTarget as HTMLSelectElement).value);
              if (f) choose(f.scenario);
            }}
          >
            {SHIPPED.find((x) => x.scenario === s) ? null : <option value="">{s ? `${s.name} (your file)` : 'choose…'}</option>}
            {SHIPPED.map((x) => (
              <option key={x.file} value={x.file}>
                {x.scenario.name}
                {scenarioProblem(x.scenario) ? ' (CLI only)' : ''}
              </option>
            ))}
          </select>
        </label>
        <label class="lab-file">
          Load a scenario file <input type="file" accept=".json,application/json" onChange={(e) => {
            const f = (e.currentTarget as HTMLInputElement).files?.[0];
            if (f) void loadFile(f);
          }} />
        </label>
        <span class="muted small-text">or drop a .json file here (format: docs/simulate.md)</span>
      </div>
      {loadError.value && (
        <p class="error-text" role="alert">
          {loadError.value}
        </p>
      )}
      {s && (
        <p class="small-text">
          <strong>{s.name}</strong> — {s.servers.length} servers, {s.steps.length} steps
          {skipped > 0 ? `, ${skipped} of which the lab skips` : ''}. {s.description}
        </p>
      )}
      {problem && (
        <p class="error-text" role="alert">
          This scenario cannot run in the lab: {problem}.
        </p>
      )}
    </section>
  );
}

function RunView(props: { run: LabRun }) {
  const r = props.run;
  const steps = r.scenario.steps;
  const nextStep = steps[r.next.value];
  const done = r.next.value >= steps.length;
  const busy = r.busy.value;
  return (
    <>
      <section class="lab-panel lab-controls" aria-label="Controls">
        <button
          type="button"
          class="primary"
          disabled={done || busy || running.value}
          onClick={async () => {
            running.value = true;
            try {
              await r.runAll();
            } finally {
              running.value = false;
            }
          }}
        >
          Run
        </button>
        <button type="button" disabled={!running.value} onClick={() => r.stop()}>
          Pause
        </button>
        <button type="button" disabled={done || busy || running.value} onClick={() => void r.step()}>
          Next step
        </button>
        <button type="button" onClick={() => newRun(r.scenario)}>
          Reset
        </button>
        <span class="lab-next" aria-live="polite">
          {done ? 'All steps done.' : nextStep ? `Next: #${r.next.value} ${describeStep(nextStep)}` : ''}
          {!r.ready.value && !done ? ' (the servers start with the first step)' : ''}
        </span>
      </section>
      <div class="lab-grid">
        <NetworkView run={r} />
        <StepLog run={r} />
      </div>
      <ServerColumns run={r} />
      <GraphPanel run={r} />
    </>
  );
}

// ---- network ----------------------------------------------------------------------------

function NetworkView(props: { run: LabRun }) {
  const r = props.run;
  const labels = r.scenario.servers;
  const W = 340;
  const H = 260;
  const R = Math.min(W, H) / 2 - 40;
  const pos = new Map(labels.map((l, i) => [l, { x: W / 2 + R * Math.cos((2 * Math.PI * i) / labels.length - Math.PI / 2), y: H / 2 + R * Math.sin((2 * Math.PI * i) / labels.length - Math.PI / 2) }]));
  const cuts = r.cuts.value;
  const ready = r.ready.value;
  const pairs: [string, string][] = [];
  for (const [i, a] of labels.entries()) for (const b of labels.slice(i + 1)) pairs.push([a, b]);
  const toggle = (a: string, b: string) => {
    if (ready) void r.toggleLink(a, b);
  };
  return (
    <section class="lab-panel lab-network" aria-labelledby="lab-net-h">
      <h2 id="lab-net-h">Network</h2>
      <p class="small-text muted">
        Lines are network links{ready ? '; click one to cut it (dashed red) or heal it' : ''}. {cuts.size > 0 ? `${cuts.size} cut.` : 'All links up.'}
      </p>
      {/* biome-ignore lint/a11y/useSemanticElements: an SVG cannot be a fieldset */}
      <svg viewBox={`0 0 ${W} ${H}`} class="lab-net-svg" role="group" aria-label="Network of servers">
        {pairs.map(([a, b]) => {
          const pa = pos.get(a)!;
          const pb = pos.get(b)!;
          const cut = cuts.has(a < b ? `${a}|${b}` : `${b}|${a}`);
          return (
            // biome-ignore lint/a11y/useSemanticElements: an SVG line cannot be a <button>
            <g
              key={`${a}-${b}`}
              class={cut ? 'lab-link cut' : 'lab-link'}
              role="button"
              tabIndex={ready ? 0 : -1}
              aria-disabled={!ready}
              aria-label={`Link ${a}–${b}: ${cut ? 'cut. Heal it' : 'up. Cut it'}`}
              aria-pressed={cut}
              onClick={() => toggle(a, b)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  toggle(a, b);
                }
              }}
            >
              <line x1={pa.x} y1={pa.y} x2={pb.x} y2={pb.y} class="hit" />
              <line x1={pa.x} y1={pa.y} x2={pb.x} y2={pb.y} class="wire" />
            </g>
          );
        })}
        {labels.map((l) => {
          const p = pos.get(l)!;
          const user = Object.entries(r.scenario.users).find(([, s]) => s === l)?.[0];
          return (
            <g key={l} class="lab-node" transform={`translate(${p.x},${p.y})`}>
              <rect x={-34} y={-20} width={68} height={40} rx={8} />
              <text y={-3} text-anchor="middle" class="n-label">
                server {l}
              </text>
              <text y={13} text-anchor="middle" class="n-user">
                {user ?? ''}
              </text>
            </g>
          );
        })}
      </svg>
    </section>
  );
}

// ---- step log ----------------------------------------------------------------------------

const MARK = { info: 'ℹ', running: '…', passed: '✓', failed: '✗', skipped: '–' } as const;

function StepLog(props: { run: LabRun }) {
  const r = props.run;
  const ref = useRef<HTMLDivElement>(null);
  const entries = r.log.value;
  const { passed, failed, skipped } = r.summary.value;
  useEffect(() => {
    const el = ref.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [entries.length]);
  return (
    <section class="lab-panel lab-log" aria-labelledby="lab-log-h">
      <h2 id="lab-log-h">
        Steps <span class="small-text muted">{passed} passed · {failed} failed · {skipped} skipped</span>
      </h2>
      <div ref={ref} role="log" aria-label="Step log" class="lab-log-list">
        <ol>
        {entries.length === 0 && <li class="muted">Press Run or Next step.</li>}
        {entries.map((e) => (
          <li key={e.id} class={`st-${e.status}`}>
            <span class="mark" aria-hidden="true">
              {MARK[e.status]}
            </span>{' '}
            {e.text}
          </li>
        ))}
        </ol>
      </div>
    </section>
  );
}

// ---- servers side by side ----------------------------------------------------------------

interface ServerView {
  label: string;
  serverName: string;
  user?: string;
  membership: string;
  holds: boolean;
  topic?: string;
  members: { name: string; membership: string }[];
  messages: { sender: string; body: string }[];
  messageCount: number;
  events: number;
  forwardEdges: number;
}

function shortName(id: string): string {
  const m = /^@([^:]*):/.exec(id);
  return m?.[1] ?? id;
}

function useRoomChoice(r: LabRun): [string, (v: string) => void, string[]] {
  const rooms = Object.keys(r.rooms.value);
  const [room, setRoom] = useState('');
  const current = rooms.includes(room) ? room : (rooms[0] ?? '');
  return [current, setRoom, rooms];
}

function ServerColumns(props: { run: LabRun }) {
  const r = props.run;
  const [room, setRoom, rooms] = useRoomChoice(r);
  const [views, setViews] = useState<ServerView[]>([]);
  const version = r.version.value;
  const ready = r.ready.value;
  const roomId = r.rooms.value[room]?.roomId;
  const loading = useRef(false);
  const again = useRef(false);

  useEffect(() => {
    if (!ready) return;
    const load = async () => {
      if (loading.current) {
        again.current = true;
        return;
      }
      loading.current = true;
      try {
        const out: ServerView[] = [];
        for (const s of r.servers.values()) {
          const base: ServerView = { label: s.label, serverName: s.serverName, ...(s.userLabel ? { user: s.userLabel } : {}), membership: 'leave', holds: false, members: [], messages: [], messageCount: 0, events: 0, forwardEdges: 0 };
          if (!roomId) {
            out.push(base);
            continue;
          }
          try {
            const [membership, state, members, bodies, dag] = await Promise.all([
              r.ownMembership(s, roomId),
              s.api.state(roomId),
              s.api.members(roomId),
              s.api.timeline(roomId, 100_000),
              s.api.dag(roomId),
            ]);
            const msgs = bodies.items.filter((it) => it.kind === 'message' && !it.inThread);
            const topic = state['m.room.topic']?.['']?.topic;
            const referenced = new Set(dag.flatMap((n) => n.prevEvents));
            out.push({
              ...base,
              membership,
              holds: true,
              ...(typeof topic === 'string' ? { topic } : {}),
              members: members.map((m) => ({ name: shortName(m.userId), membership: m.membership })),
              messages: msgs.slice(-8).map((m) => ({ sender: shortName(m.sender), body: m.body ?? '' })),
              messageCount: msgs.length,
              events: dag.filter((n) => n.status === 'accepted' || n.status === 'soft_failed').length,
              forwardEdges: dag.filter((n) => !referenced.has(n.eventId)).length,
            });
          } catch {
            out.push({ ...base, membership: await r.ownMembership(s, roomId).catch(() => 'leave') });
          }
        }
        setViews(out);
      } finally {
        loading.current = false;
        if (again.current) {
          again.current = false;
          void load();
        }
      }
    };
    void load();
  }, [version, ready, roomId]);

  return (
    <section class="lab-panel" aria-labelledby="lab-servers-h">
      <div class="lab-row">
        <h2 id="lab-servers-h">What each server sees</h2>
        <RoomPicker rooms={rooms} room={room} onPick={setRoom} />
      </div>
      {!ready && <p class="muted">The servers start with the first step.</p>}
      <div class="lab-columns">
        {views.map((v) => (
          <article key={v.label} class="lab-server" aria-label={`Server ${v.label}`}>
            <h3>
              Server {v.label}{' '}
              <span class="mono small-text muted" title={v.serverName}>
                {v.serverName.slice(-6)}
              </span>
            </h3>
            <p class="small-text">
              {v.user ? `${v.user}: ${v.membership}` : 'no user'}
              {v.holds ? ` · ${v.events} events · ${v.forwardEdges} head${v.forwardEdges === 1 ? '' : 's'}${v.forwardEdges > 1 ? ' (forked)' : ''}` : ''}
            </p>
            {v.holds ? (
              <>
                <p class="lab-topic">
                  Topic: <span data-testid="topic">{v.topic ?? '(none)'}</span>
                </p>
                <p class="small-text">
                  Members: {v.members.map((m) => `${m.name} (${m.membership})`).join(', ') || 'none'}
                </p>
                <p class="small-text muted">
                  {v.messageCount} message{v.messageCount === 1 ? '' : 's'}
                  {v.messageCount > v.messages.length ? `, latest ${v.messages.length}` : ''}:
                </p>
                <ul class="lab-msgs">
                  {v.messages.map((m, k) => (
                    <li key={k}>
                      <strong>{m.sender}</strong> {m.body}
                    </li>
                  ))}
                </ul>
              </>
            ) : (
              <p class="muted small-text">{roomId ? 'Not in the room yet.' : 'No room yet.'}</p>
            )}
          </article>
        ))}
      </div>
    </section>
  );
}

// ---- event graph -------------------------------------------------------------------------

type GraphView = ComponentType<{ roomId: string; source?: GraphSource }>;

function GraphPanel(props: { run: LabRun }) {
  const r = props.run;
  const [room, setRoom, rooms] = useRoomChoice(r);
  const [View, setView] = useState<GraphView | null>(null);
  const [err, setErr] = useState('');
  const label = graphServer.value;
  const server = r.ready.value ? r.servers.get(label) : undefined;
  const roomId = r.rooms.value[room]?.roomId;
  const [holds, setHolds] = useState(false);
  const version = r.version.value;
  const show = useComputed(() => !!run.value);

  useEffect(() => {
    import('../ui/graph/EventGraph.tsx').then(
      (m) => setView(() => m.EventGraph),
      (e: unknown) => setErr(errorText(e)),
    );
  }, []);
  useEffect(() => {
    if (!server || !roomId) {
      setHolds(false);
      return;
    }
    server.api.state(roomId).then(
      () => setHolds(true),
      () => setHolds(false),
    );
  }, [server, roomId, version]);

  if (!show.value) return null;
  return (
    <section class="lab-panel" aria-labelledby="lab-graph-h">
      <div class="lab-row">
        <h2 id="lab-graph-h">Event graph</h2>
        <label>
          As seen by{' '}
          <select value={label} onChange={(e) => (graphServer.value = (e.currentTarget as HTMLSelectElement).value)}>
            {r.scenario.servers.map((l) => (
              <option key={l} value={l}>
                server {l}
              </option>
            ))}
          </select>
        </label>
        <RoomPicker rooms={rooms} room={room} onPick={setRoom} />
      </div>
      <p class="small-text muted">
        Every message or change is an event that points to the events its server had seen last. While the network is split, each side
        grows its own branch (a fork); after the heal the next event points to both (a merge).
      </p>
      {err && <p class="error-text">{err}</p>}
      {View && server && roomId && holds ? (
        <View key={`${label}-${roomId}`} roomId={roomId} source={server.api} />
      ) : (
        <p class="muted">{roomId ? `Server ${label} does not hold the room yet.` : 'No room yet.'}</p>
      )}
    </section>
  );
}

/** Which scenario room the views show (only when the scenario has several). */
function RoomPicker(props: { rooms: string[]; room: string; onPick: (room: string) => void }) {
  if (props.rooms.length <= 1) return null;
  return (
    <label>
      Room{' '}
      <select value={props.room} onChange={(e) => props.onPick((e.currentTarget as HTMLSelectElement).value)}>
        {props.rooms.map((x) => (
          <option key={x} value={x}>
            {x}
          </option>
        ))}
      </select>
    </label>
  );
}
