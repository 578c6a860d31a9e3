import type { TimelineItem } from './content/aggregate.ts';

/** A room's timeline as the app's page shows it: `version` orders reads (a later read has a higher one). */
export interface TimelineRead {
  items: TimelineItem[];
  hasMore: boolean;
  limit: number;
  version: number;
}

/** Live updates pushed to subscribers (the UI via Comlink, the simulator, tests). */
export type Update =
  | { kind: 'event'; roomId: string; eventId: string; status: string; stream: number }
  /**
   * Events received live and placed in the room in memory, before their write lands (the
   * 'event' update follows once stored). The app's page may show them now — its timeline reads
   * the room in memory — which takes the receiver's store write off the path to the screen. The
   * Client-Server API waits for 'event': its stream positions are durable only once written.
   */
  | {
      kind: 'placed';
      roomId: string;
      eventIds: string[];
      /**
       * The app's worker adds the timeline of the room its page shows (`watchTimeline`), read
       * at placement, so the page has it without asking: the ask waited behind the worker's
       * store write of the same events.
       */
      timeline?: TimelineRead;
    }
  | { kind: 'room'; roomId: string }
  | { kind: 'invite'; roomId: string; userId: string; sender: string }
  | { kind: 'typing'; roomId: string; userIds: string[] }
  | { kind: 'receipt'; roomId: string; userId: string; eventId: string }
  | { kind: 'presence'; userId: string; presence: string }
  | { kind: 'network'; peer: string; up: boolean }
  /** History fetched so far by a backfill of the room (after a join, or of a gap); `done` once placed or failed. */
  | { kind: 'backfill'; roomId: string; fetched: number; done: boolean; error?: string };

export type UpdateListener = (update: Update) => void;
