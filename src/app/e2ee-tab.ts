/**
 * The tab as an end-to-end encryption device. The tab's person acts through
 * the app (HomeserverClient calls, no HTTP); for encryption the tab is also a
 * Matrix device of that person, with its own device ID and access token on
 * this homeserver's Client-Server API, called in-process (ClientApi.handle).
 * The Rust crypto runs in this (the homeserver's) worker; src/e2ee-device
 * holds the machine, this file connects it to the app:
 *
 * - the device: created once per homeserver and remembered in its client data
 *   (`hearth.e2ee_device`: device ID and the crypto store's passphrase); its
 *   keys, Olm and Megolm sessions live in the Rust crypto's IndexedDB store
 *   `hearth-crypto-<database>-<device>`. When that store is gone (a restored
 *   backup, a cleared profile) the tab becomes a new device and the old one is
 *   deleted: keys never leave the store they were made in.
 * - sending (ClientCrypto.encrypt): messages in encrypted rooms are encrypted
 *   to the joined and invited members' devices before the event is built.
 * - reading (ClientCrypto.cleartext): decrypted events are kept in this
 *   worker's memory only — never written to the homeserver's store, whose
 *   events stay ciphertext. An event whose key has not arrived reads "Waiting
 *   for the key…" and is decrypted again when the key arrives (room-key
 *   callback), and the page told to redraw.
 */
import { encodeBase64Url } from '../core/base64.ts';
import type { JsonObject } from '../core/json.ts';
import { type DecryptResult, E2eeDevice, type EncryptedFileInfo } from '../e2ee-device/device.ts';
import { inProcessRequest } from '../e2ee-device/in-process-request.ts';
import type { ClientApi } from '../server/client-api/api.ts';
import { type Cleartext, type ClientCrypto, ENCRYPTED_TYPE } from '../server/client.ts';
import type { Homeserver } from '../server/homeserver.ts';
import type { Room } from '../server/room.ts';

const DEVICE_KIND = 'hearth.e2ee_device';
const DEVICE_NAME = 'Hearth (this tab)';

interface DeviceRecord {
  device_id: string;
  passphrase: string;
}

export interface TabE2eeOptions {
  /** Keep the crypto store in IndexedDB under this name prefix (the browser); absent: in memory (Node). */
  storePrefix?: string;
}


export class TabE2ee implements ClientCrypto {
  /** Decrypted events (memory only). */
  private readonly clear = new Map<string, Cleartext>();
  /** Events tried and not decrypted yet, by event ID: their room and Megolm session. */
  private readonly waiting = new Map<string, { roomId: string; sessionId?: string; reason: string }>();
  /** Decryptions in flight, so a timeline read and an update do not decrypt twice. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private unsubscribe?: () => void;
  /** Room keys received so far, per room: a decryption that failed while one arrived is tried again. */
  private readonly keysSeen = new Map<string, number>();

  private constructor(
    readonly hs: Homeserver,
    readonly device: E2eeDevice,
  ) {}

  /** Starts the tab's device for `userId` (creating it on first use) and its sync loop. */
  static async start(hs: Homeserver, api: ClientApi, userId: string, opts: TabE2eeOptions = {}): Promise<TabE2ee> {
    let rec = parseRecord(api.getData(userId, DEVICE_KIND, 'tab'));
    const storeName = (r: DeviceRecord) => (opts.storePrefix ? `${opts.storePrefix}-${r.device_id}` : undefined);
    if (rec && opts.storePrefix && !(await storeExists(storeName(rec)!))) {
      // The keys of that device are gone with its store: this tab is a new device from now on.
      hs.log('warn', 'the encryption store of this tab is gone; starting a new device', { device: rec.device_id });
      const old = rec.device_id;
      rec = undefined;
      if (hs.requireLocalUser(userId).devices.some((d) => d.device_id === old)) await api.deleteDevices(userId, [old]);
    }
    if (!rec) {
      rec = { device_id: `HEARTH${encodeBase64Url(hs.random(6)).toUpperCase().replace(/[^A-Z0-9]/g, 'X')}`, passphrase: encodeBase64Url(hs.random(32)) };
      await api.putData([{ user_id: userId, kind: DEVICE_KIND, key: 'tab', value: { ...rec } }]);
    }
    // A fresh token each start: it is used only inside this worker and never stored.
    const { accessToken } = await api.issueToken(userId, rec.device_id, DEVICE_NAME);
    const device = await E2eeDevice.start({
      userId,
      deviceId: rec.device_id,
      request: inProcessRequest(api, accessToken),
      ...(storeName(rec) ? { storeName: storeName(rec)!, storePassphrase: rec.passphrase } : {}),
      log: (level, msg, extra) => hs.log(level, msg, extra),
    });
    const tab = new TabE2ee(hs, device);
    device.onRoomKeys((roomId, sessionId) => tab.keyArrived(roomId, sessionId));
    tab.unsubscribe = hs.subscribe((u) => {
      if (u.kind !== 'event' || u.status !== 'accepted') return;
      const ev = hs.rooms.get(u.roomId)?.get(u.eventId);
      if (ev?.type === ENCRYPTED_TYPE) void tab.decryptEvents(u.roomId, [u.eventId], true);
    });
    void device.runSyncLoop();
    return tab;
  }

  get deviceId(): string {
    return this.device.deviceId;
  }

  cleartext(eventId: string): Cleartext | undefined {
    return this.clear.get(eventId);
  }

  /** Whether an event is waiting for its key (tried, not decrypted). */
  isWaiting(eventId: string): boolean {
    return this.waiting.has(eventId);
  }

  async encrypt(room: Room, type: string, content: JsonObject): Promise<JsonObject> {
    const state = room.currentState();
    const members = room
      .members(state)
      .filter((m) => m.membership === 'join' || m.membership === 'invite')
      .map((m) => m.userId);
    const hv = room.stateEvent('m.room.history_visibility', '', state)?.content.history_visibility;
    return (await this.device.encryptRoomEvent(room.roomId, type, content, members, typeof hv === 'string' ? hv : 'shared')) as JsonObject;
  }

  /**
   * Decrypts the room's encrypted events not tried yet (all of them, or
   * `eventIds`); `announce`: tell the page when one is decrypted.
   */
  async decryptEvents(roomId: string, eventIds?: readonly string[], announce = false): Promise<void> {
    const room = this.hs.rooms.get(roomId);
    if (!room) return;
    const ids = eventIds ?? [...room.events.values()].filter((s) => s.pdu.type === ENCRYPTED_TYPE).map((s) => s.event_id);
    const work: Promise<void>[] = [];
    for (const id of ids) {
      if (this.clear.has(id) || this.waiting.has(id)) continue;
      work.push(this.decryptOne(room, id));
    }
    await Promise.all(work);
    if (announce && ids.some((id) => this.clear.has(id))) this.hs.emit({ kind: 'room', roomId });
  }

  private decryptOne(room: Room, eventId: string): Promise<void> {
    const running = this.inFlight.get(eventId);
    if (running) return running;
    const p = (async () => {
      const ev = room.get(eventId);
      if (!ev || ev.type !== ENCRYPTED_TYPE) return;
      const event = { event_id: eventId, room_id: room.roomId, sender: ev.sender, type: ev.type, content: ev.content, origin_server_ts: ev.origin_server_ts };
      let seen = this.keysSeen.get(room.roomId) ?? 0;
      let r: DecryptResult = await this.device.decryptRoomEvent(room.roomId, event);
      // A key that arrived while this attempt ran found no waiting event to retry: retry here.
      while (!r.ok && (this.keysSeen.get(room.roomId) ?? 0) !== seen) {
        seen = this.keysSeen.get(room.roomId) ?? 0;
        r = await this.device.decryptRoomEvent(room.roomId, event);
      }
      if (r.ok) {
        this.clear.set(eventId, { type: r.type, content: r.content as JsonObject });
        this.waiting.delete(eventId);
      } else {
        this.waiting.set(eventId, { roomId: room.roomId, reason: r.reason, ...(r.sessionId ? { sessionId: r.sessionId } : {}) });
      }
    })().finally(() => this.inFlight.delete(eventId));
    this.inFlight.set(eventId, p);
    return p;
  }

  /** A room key arrived: the events waiting for it are decrypted again, and the page redraws. */
  private keyArrived(roomId: string, sessionId: string): void {
    this.keysSeen.set(roomId, (this.keysSeen.get(roomId) ?? 0) + 1);
    const retry = [...this.waiting].filter(([, w]) => w.roomId === roomId && (w.sessionId === undefined || w.sessionId === sessionId)).map(([id]) => id);
    if (retry.length === 0) return;
    for (const id of retry) this.waiting.delete(id);
    void this.decryptEvents(roomId, retry, true);
  }

  /** Encrypts an attachment for an encrypted room: the ciphertext to upload and the `file` info. */
  encryptAttachment(bytes: Uint8Array): { ciphertext: Uint8Array; file: EncryptedFileInfo } {
    return this.device.encryptAttachment(bytes);
  }

  decryptAttachment(ciphertext: Uint8Array, file: EncryptedFileInfo): Uint8Array {
    return this.device.decryptAttachment(ciphertext, file);
  }

  stop(): void {
    this.unsubscribe?.();
    this.device.stop();
  }
}

function parseRecord(v: unknown): DeviceRecord | undefined {
  const r = v as Partial<DeviceRecord> | undefined;
  return r && typeof r.device_id === 'string' && typeof r.passphrase === 'string' ? { device_id: r.device_id, passphrase: r.passphrase } : undefined;
}

/** Whether the Rust crypto's IndexedDB store `name` exists (it names its databases `name::…`). */
async function storeExists(name: string): Promise<boolean> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb?.databases) return true; // cannot tell: assume it is there (the machine opens or creates it)
  const dbs = await idb.databases();
  return dbs.some((d) => d.name === name || d.name?.startsWith(`${name}::`));
}
