/**
 * The signalling exchange for a direct link, carried on one stream of the
 * relayed connection the two peers already share: the dialer sends its offer,
 * the listener answers. ICE candidates ride inside the SDP (each side waits
 * for gathering to finish first), so there is no trickle round-trip to get
 * wrong; with host candidates only, gathering takes milliseconds.
 */
export const SIGNAL_PROTOCOL = '/hearth/webrtc-signal/1';

/** SDP with a handful of host candidates is a few KiB; anything far larger is not an honest offer. */
export const MAX_SIGNAL_BYTES = 64 * 1024;

export type SignalMessage = { type: 'offer'; sdp: string } | { type: 'answer'; sdp: string } | { type: 'refuse'; reason: string };

export function encodeSignal(msg: SignalMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(msg));
}

/** The message, or undefined if the frame is not one of ours. */
export function decodeSignal(bytes: Uint8Array): SignalMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const m = v as { type?: unknown; sdp?: unknown; reason?: unknown };
  if ((m.type === 'offer' || m.type === 'answer') && typeof m.sdp === 'string') return { type: m.type, sdp: m.sdp };
  if (m.type === 'refuse' && typeof m.reason === 'string') return { type: 'refuse', reason: m.reason };
  return undefined;
}
