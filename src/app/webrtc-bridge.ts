/**
 * The messages between the homeserver worker and its page for direct links.
 * The worker drives; the page owns the RTCPeerConnections (workers have none)
 * and gives the worker each one's data channel. They travel on the worker's
 * own message port next to Comlink's traffic, which ignores them: Comlink
 * only reads messages with an `id` (page side) or a known `type` (worker side),
 * and ours have neither — everything is under `hearthRtc`.
 */

/** What the worker asks of the page's peer connection `pc`. */
export type BridgeCall =
  | { op: 'create' }
  | { op: 'offer' }
  | { op: 'accept-offer'; sdp: string }
  | { op: 'accept-answer'; sdp: string }
  | { op: 'close' };

export type WorkerToPage =
  /** Is a page bridge there? (It answers `ready`.) */
  | { hearthRtc: 'probe' }
  | { hearthRtc: 'call'; req: number; pc: number; call: BridgeCall };

export type PageToWorker =
  | { hearthRtc: 'ready' }
  /** `channel` (transferred) answers `create`; `sdp` answers `offer` and `accept-offer`. */
  | { hearthRtc: 'reply'; req: number; ok: true; sdp?: string; channel?: RTCDataChannel }
  | { hearthRtc: 'reply'; req: number; ok: false; error: string }
  /** The peer connection failed or closed on its own. */
  | { hearthRtc: 'gone'; pc: number }
  /** Test hook: cut (or restore) this homeserver's link to its relays, to show direct links carry on alone. */
  | { hearthRtc: 'debug'; op: 'block-relays' | 'unblock-relays' };

export function isBridgeMessage(data: unknown): data is { hearthRtc: string } {
  return typeof data === 'object' && data !== null && typeof (data as { hearthRtc?: unknown }).hearthRtc === 'string';
}
