/**
 * Lays out a room's DAG with dagre (top = oldest): one node per event, one
 * edge per prev_event. Forks are events with several children, merges events
 * with several prev_events.
 */
import dagre from '@dagrejs/dagre';
import type { DagNode } from '../api.ts';

export const NODE_W = 150;
export const NODE_H = 38;

export interface PlacedNode {
  node: DagNode;
  x: number;
  y: number;
  fork: boolean;
  merge: boolean;
}

export interface PlacedEdge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
}

export interface GraphLayout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

export function layoutDag(dag: readonly DagNode[]): GraphLayout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 24, ranksep: 34, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(dag.map((n) => n.eventId));
  const children = new Map<string, number>();
  for (const n of dag) g.setNode(n.eventId, { width: NODE_W, height: NODE_H });
  for (const n of dag) {
    for (const p of n.prevEvents) {
      if (!ids.has(p)) continue;
      g.setEdge(p, n.eventId);
      children.set(p, (children.get(p) ?? 0) + 1);
    }
  }
  dagre.layout(g);
  const nodes = dag.map((node) => {
    const pos = g.node(node.eventId) as { x: number; y: number };
    return {
      node,
      x: pos.x,
      y: pos.y,
      fork: (children.get(node.eventId) ?? 0) > 1,
      merge: node.prevEvents.filter((p) => ids.has(p)).length > 1,
    };
  });
  const edges = g.edges().map((e) => ({
    from: e.v,
    to: e.w,
    points: ((g.edge(e) as { points?: { x: number; y: number }[] }).points ?? []).slice(),
  }));
  const graph = g.graph() as { width?: number; height?: number };
  return { nodes, edges, width: graph.width ?? 0, height: graph.height ?? 0 };
}
