/**
 * The page's handle on the tab's homeserver: the worker's HomeserverService
 * over Comlink, with the types the UI uses. Every method returns a promise;
 * errors thrown in the worker arrive as Error objects with the worker's message.
 */
import * as Comlink from 'comlink';
import type { HomeserverService, NetworkStatus, StartResult } from '../app/service.ts';
import { installWebrtcBridge } from '../app/webrtc-page.ts';
import type { DagNode, RoomSummary } from '../server/client.ts';
import type { TimelineItem } from '../server/content/aggregate.ts';
import type { TimelineRead, Update } from '../server/updates.ts';

export type { DagNode, NetworkStatus, RoomSummary, StartResult, TimelineItem, TimelineRead, Update };

export type Api = Comlink.Remote<HomeserverService>;

export interface Member {
  userId: string;
  membership: string;
  displayName?: string;
  avatarUrl?: string;
  powerLevel: number;
}

export type RoomState = Record<string, Record<string, Record<string, unknown>>>;

export interface PublicRoom {
  roomId: string;
  name?: string;
  topic?: string;
  members: number;
  server: string;
}

export interface EventDetail {
  event: Record<string, unknown>;
  status: string;
  reason?: string;
  redactedBy?: string;
}

let api: Api | undefined;
let worker: Worker | undefined;

/** Ends the homeserver worker (and so lets its database's lock go); the next connectWorker starts a new one. */
export function stopWorker(): void {
  worker?.terminate();
  worker = undefined;
  api = undefined;
}

/** Starts the homeserver worker once per page. */
export function connectWorker(): Api {
  if (!api) {
    const w = new Worker(new URL('../../workers/homeserver.worker.ts', import.meta.url), { type: 'module' });
    worker = w;
    api = Comlink.wrap<HomeserverService>(w);
    // The worker cannot create RTCPeerConnections: the page does it for its direct links to other tabs.
    installWebrtcBridge(w);
  }
  return api;
}

/** Subscribes to the worker's live updates. */
export function subscribe(a: Api, onUpdate: (u: Update) => void): Promise<void> {
  return a.subscribe(Comlink.proxy(onUpdate));
}

/** The message to show for a failed call. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err && 'message' in err && typeof err.message === 'string') return err.message;
  return String(err);
}
