/**
 * What the person sends, from the moment they press Enter: a local echo shown at once
 * (*sending*), then, once the worker has the event, its delivery — *sent* when every other
 * server in the room has it, *not delivered to N servers* (with a retry) while the outbox
 * still holds copies for N destinations. A send the homeserver refused stays in the list as
 * *not sent*, with the reason and a retry.
 */
import { computed, effect, signal } from '@preact/signals';
import { heldEventIdOf } from '../../server/held-write.ts';
import { errorText } from '../api.ts';
import { MAX_IMAGE_BYTES, attempt, say, sendMessage, service } from './actions.ts';
import { currentRoomId, myUserId, network, rooms, timeline } from './store.ts';
import { keepIfEqual } from './timeline-reuse.ts';

/**
 * The largest message content the composer sends. The network refuses events over 64 KiB
 * (M_TOO_LARGE; every server drops them); the event around the content — IDs, hashes,
 * signatures, references to earlier events — takes the rest.
 */
export const MAX_MESSAGE_BYTES = 62 * 1024;

/** The size in bytes of a text message's content as sent (body, formatted body, the format's name). */
export function messageBytes(body: string, html: string | undefined): number {
  const content = { msgtype: 'm.text', body, ...(html !== undefined ? { format: 'org.matrix.custom.html', formatted_body: html } : {}) };
  return new TextEncoder().encode(JSON.stringify(content)).length;
}

/** `bytes` in KiB for people: "62 KiB", "70.3 KiB". */
export function kib(bytes: number): string {
  const k = bytes / 1024;
  return `${Number.isInteger(k) ? k : k.toFixed(1)} KiB`;
}

export interface Outgoing {
  /** Local only: keys the echo until the event has an ID. */
  id: string;
  roomId: string;
  thread?: string;
  body: string;
  html?: string;
  /** Users the message mentions (`m.mentions.user_ids`). */
  mentions?: string[];
  ts: number;
  state: 'sending' | 'failed';
  /** Set once the worker answered; the echo goes when the timeline shows the event. */
  eventId?: string;
  error?: string;
  /** Refused for lack of storage but kept by the homeserver (eventId): a retry writes it instead of sending again. */
  held?: boolean;
}

/** Local echoes of messages not yet in the timeline (or refused). */
export const outgoing = signal<Outgoing[]>([]);
/** My events in the open room that some servers have not received yet: event ID → how many servers. */
export const undelivered = signal<Record<string, number>>({});
/**
 * My latest message in the open room (it says "Sent"): a string, so the tiles that read it
 * re-render when it moves, not on every timeline read.
 */
export const lastSentByMe = computed(() => {
  const me = myUserId.value;
  return timeline.value.findLast((i) => i.sender === me && !i.inThread && i.kind !== 'notice')?.event_id;
});

let counter = 0;

function update(id: string, change: Partial<Outgoing>): void {
  outgoing.value = outgoing.value.map((o) => (o.id === id ? { ...o, ...change } : o));
}

/** Sends go to the worker one at a time, in the order they were written: quick messages keep their order. */
let queue: Promise<unknown> = Promise.resolve();
/** Sends handed to the worker or waiting for their turn. */
let inFlight = 0;

function deliver(o: Outgoing): Promise<boolean> {
  inFlight++;
  // With nothing ahead of it, the send goes to the worker now, in the keypress's own task: behind
  // `queue.then` it waited for the microtask that renders the echo (~5–9 ms on the path to the
  // other tab in bench/latency.ts). The echo still renders in the same frame.
  const next = inFlight === 1 ? deliverNow(o) : queue.then(() => deliverNow(o));
  const settled = next.finally(() => {
    inFlight--;
  });
  queue = settled.catch(() => undefined);
  return settled;
}

async function deliverNow(o: Outgoing): Promise<boolean> {
  // Sending goes to the open room: one left while this waited is retried from there.
  if (currentRoomId.value !== o.roomId) {
    update(o.id, { state: 'failed', error: 'the room was closed before it was sent' });
    return false;
  }
  let failure: string | undefined;
  const ok = await sendMessage(o.body, o.thread, o.html, {
    ...(o.mentions ? { mentions: o.mentions } : {}),
    echo: o.id,
    // The stored event can reach the timeline before the send's answer names it (the timeline is
    // read at once on each update): then the echo goes now, not at the next timeline change.
    sent: (eventId) => {
      if (timeline.peek().some((i) => i.event_id === eventId && i.echo === undefined)) outgoing.value = outgoing.value.filter((x) => x.id !== o.id);
      else update(o.id, { eventId });
    },
    failed: (err) => {
      failure = errorText(err);
    },
  });
  if (!ok) {
    // Storage was full: the event exists and its write is held. Retry writes it (never a second copy).
    const held = failure ? heldEventIdOf(failure) : undefined;
    update(o.id, { state: 'failed', error: failure ?? 'the homeserver refused it', ...(held ? { eventId: held, held: true } : {}) });
  }
  return ok;
}

/** A held message's retry: write what the homeserver holds; the echo goes when the stored event shows. */
async function flushHeld(o: Outgoing): Promise<void> {
  try {
    await service().flushWrites();
  } catch (err) {
    update(o.id, { state: 'failed', error: errorText(err) });
  }
}

/** Sends a message to the open room (or `thread`), echoing it locally at once. */
export function send(body: string, html: string | undefined, thread?: string, mentions?: string[]): Promise<boolean> {
  const roomId = currentRoomId.value;
  if (!roomId) return Promise.resolve(false);
  const o: Outgoing = {
    id: `local-${Date.now()}-${counter++}`,
    roomId,
    body,
    ts: Date.now(),
    state: 'sending',
    ...(html !== undefined ? { html } : {}),
    ...(thread !== undefined ? { thread } : {}),
    ...(mentions?.length ? { mentions } : {}),
  };
  outgoing.value = [...outgoing.value, o];
  return deliver(o);
}

/** Sends a refused message again. */
export function resend(id: string): void {
  const o = outgoing.value.find((x) => x.id === id);
  if (o?.state !== 'failed' || o.roomId !== currentRoomId.value) return;
  const { error: _, ...again } = o;
  outgoing.value = outgoing.value.map((x) => (x.id === id ? { ...again, state: 'sending' } : x));
  if (o.held) void flushHeld(again);
  else void deliver(again);
}

/** Drops a refused message from the list. */
export function discard(id: string): void {
  outgoing.value = outgoing.value.filter((o) => o.id !== id);
}

/** Asks the outbox to try every waiting server now. */
export function retryDelivery(): void {
  void service()
    .retryDelivery()
    .catch(() => undefined)
    .then(refreshDelivery);
}

let polling: ReturnType<typeof setTimeout> | undefined;

/** Reads which of my recent events in the open room still wait for some servers. */
export async function refreshDelivery(): Promise<void> {
  const roomId = currentRoomId.value;
  const me = myUserId.value;
  if (!roomId || !me) return;
  const mine = timeline.value
    .filter((i) => i.sender === me)
    .slice(-50)
    .map((i) => i.event_id);
  let result: Record<string, number> = {};
  try {
    result = mine.length ? await service().undelivered(mine) : {};
  } catch {
    return;
  }
  if (currentRoomId.value !== roomId) return;
  undelivered.value = keepIfEqual(result, undelivered.peek());
  clearTimeout(polling);
  // The outbox does not announce each delivery: look again while something is waiting.
  if (Object.keys(result).length > 0) polling = setTimeout(() => void refreshDelivery(), 2000);
}

// The echo of a sent message goes once the timeline has the event stored; delivery is re-read
// when the timeline or the network changes. The room can show the event before it is stored
// (the item names its echo): the echo learns its event ID then, and stays — the timeline hides
// the item meanwhile (withoutEchoed) — until the stored event shows.
effect(() => {
  const items = timeline.value;
  void network.value;
  const stored = new Set<string>();
  const unstored = new Map<string, string>();
  for (const i of items) {
    if (i.echo === undefined) stored.add(i.event_id);
    else unstored.set(i.echo, i.event_id);
  }
  const pending = outgoing.peek();
  let changed = false;
  const next: Outgoing[] = [];
  for (const o of pending) {
    if (o.eventId && stored.has(o.eventId)) {
      changed = true;
      continue;
    }
    const named = o.eventId ? undefined : unstored.get(o.id);
    if (named) changed = true;
    next.push(named ? { ...o, eventId: named } : o);
  }
  if (changed) outgoing.value = next;
  void refreshDelivery();
});

/** The timeline without items that an echo still stands for (sent here, not stored yet): one row per message. */
export function withoutEchoed<T extends { echo?: string }>(items: readonly T[]): readonly T[] {
  // Read the echoes only when some item names one: reading the signal subscribes the caller (the
  // whole Timeline) to every echo change, a re-render in the keypress's frame for nothing.
  if (!items.some((i) => i.echo !== undefined)) return items;
  const echoes = new Set(outgoing.value.map((o) => o.id));
  return items.filter((i) => i.echo === undefined || !echoes.has(i.echo));
}

/** Shares any file with the open room as an `m.file` (images go through sendImage instead). */
export async function sendFile(file: File): Promise<boolean> {
  const roomId = currentRoomId.value;
  if (!roomId) return false;
  const name = file.name || 'file';
  if (file.size > MAX_IMAGE_BYTES) {
    say(`${name} is too large to share (${mib(file.size)}): files can be at most ${mib(MAX_IMAGE_BYTES)}.`, true);
    return false;
  }
  return attempt(`Could not share ${name}`, async () => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const mimetype = file.type || 'application/octet-stream';
    if (rooms.value.find((r) => r.roomId === roomId)?.encrypted) {
      // An encrypted room: the worker encrypts the file, and only ciphertext is stored and sent.
      const enc = await service().uploadEncryptedMedia(bytes);
      await service().sendFile(roomId, { url: enc.url, file: { ...enc }, mimetype, size: file.size, name });
    } else {
      await service().sendFile(roomId, { url: await service().uploadMedia(bytes, mimetype), mimetype, size: file.size, name });
    }
  });
}

/** `bytes` in MiB for people: "2.0 MiB". */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
