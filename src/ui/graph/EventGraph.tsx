/**
 * The room's DAG, live: events as nodes (state events outlined, rejected and
 * soft-failed events marked), prev_events as edges, forks and merges flagged.
 * Clicking a node shows its JSON and its auth events. Loaded lazily.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { type Api, type DagNode, type EventDetail, errorText } from '../api.ts';
import { localpart } from '../format.ts';
import { roomEventListeners, service } from '../state/actions.ts';
import { NODE_H, NODE_W, layoutDag } from './layout.ts';
import { EventInspector } from './EventInspector.tsx';

function label(n: DagNode): string {
  const t = n.type.replace(/^m\.room\./, '');
  return n.isState && n.stateKey ? `${t} ${localpart(n.stateKey)}` : t;
}

/** Where the graph reads the room from: the app's homeserver by default (the lab passes one of its workers). */
export type GraphSource = Pick<Api, 'dag' | 'event'>;

export function EventGraph(props: { roomId: string; source?: GraphSource }) {
  const [dag, setDag] = useState<DagNode[] | null>(null);
  const [error, setError] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const [detail, setDetail] = useState<EventDetail | null>(null);

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const src = props.source ?? service();
    const load = () =>
      src
        .dag(props.roomId)
        .then(
          (d) => live && setDag(d),
          (e: unknown) => live && setError(errorText(e)),
        );
    const onEvent = (roomId: string) => {
      if (roomId !== props.roomId) return;
      clearTimeout(timer);
      timer = setTimeout(load, 100);
    };
    void load();
    roomEventListeners.add(onEvent);
    return () => {
      live = false;
      clearTimeout(timer);
      roomEventListeners.delete(onEvent);
    };
  }, [props.roomId, props.source]);

  useEffect(() => {
    if (!selected) {
      setDetail(null);
      return;
    }
    (props.source ?? service())
      .event(props.roomId, selected)
      .then(
        (d) => setDetail(d as EventDetail),
        (e: unknown) => setError(errorText(e)),
      );
  }, [selected, props.roomId, props.source]);

  const layout = useMemo(() => (dag ? layoutDag(dag) : null), [dag]);
  const byId = useMemo(() => new Map(layout?.nodes.map((n) => [n.node.eventId, n]) ?? []), [layout]);
  const sel = selected ? byId.get(selected)?.node : undefined;
  const authSet = new Set(sel?.authEvents ?? []);

  if (error) return <p class="error-text">{error}</p>;
  if (!layout) return <p class="muted">Loading the room's events…</p>;

  return (
    <div class="graph">
      <p class="legend small-text">
        <span class="lg state">state event</span> <span class="lg msg">message</span>{' '}
        <span class="lg rejected">rejected</span> <span class="lg soft">soft-failed</span>{' '}
        <span class="lg auth">auth event of the selection</span> · {layout.nodes.length} events ·{' '}
        {layout.nodes.filter((n) => n.fork).length} forks · {layout.nodes.filter((n) => n.merge).length} merges
      </p>
      <div class="graph-scroll">
        {/* biome-ignore lint/a11y/useSemanticElements: an SVG cannot be a fieldset */}
        <svg
          width={layout.width}
          height={layout.height}
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          role="group"
          aria-label="Room event graph"
        >
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
            </marker>
          </defs>
          {layout.edges.map((e) => (
            <polyline
              key={`${e.from}-${e.to}`}
              class={selected && (e.to === selected || e.from === selected) ? 'edge hot' : 'edge'}
              points={e.points.map((p) => `${p.x},${p.y}`).join(' ')}
              marker-end="url(#arrow)"
            />
          ))}
          {layout.nodes.map(({ node, x, y, fork, merge }) => {
            const cls = [
              'node',
              node.isState ? 'state' : 'msg',
              node.status === 'rejected' ? 'rejected' : '',
              node.status === 'soft_failed' ? 'soft' : '',
              node.eventId === selected ? 'selected' : '',
              authSet.has(node.eventId) ? 'auth' : '',
            ].join(' ');
            return (
              // biome-ignore lint/a11y/useSemanticElements: an SVG node cannot be a <button>
              <g
                key={node.eventId}
                class={cls}
                transform={`translate(${x - NODE_W / 2},${y - NODE_H / 2})`}
                role="button"
                tabIndex={0}
                aria-label={`${node.type} by ${node.sender}, depth ${node.depth}, ${node.status}`}
                aria-pressed={node.eventId === selected}
                onClick={() => setSelected(node.eventId)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' || e.key === ' ') {
                    e.preventDefault();
                    setSelected(node.eventId);
                  }
                }}
              >
                <rect width={NODE_W} height={NODE_H} rx={node.isState ? 3 : 12} />
                <text x={8} y={15} class="n-type">
                  {label(node).slice(0, 20)}
                </text>
                <text x={8} y={30} class="n-sub">
                  {localpart(node.sender).slice(0, 12)} · d{node.depth}
                  {fork ? ' · fork' : ''}
                  {merge ? ' · merge' : ''}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
      {sel && detail && <EventInspector node={sel} detail={detail} onSelect={setSelected} />}
    </div>
  );
}
