/**
 * End-to-end encryption, the homeserver's part: it stores and relays what
 * the clients' crypto produces — device keys, one-time and fallback keys,
 * cross-signing keys and signatures, to-device messages — and never sees a
 * private key or a plaintext. Engine-side (not in the Client-Server API),
 * because federation serves and feeds the same tables: a peer's
 * `user_keys_claim` takes the one-time key a local client uploaded, and a
 * to-device message arriving over federation must be queued even when no
 * client is connected.
 *
 * Everything is kept in memory and written through as client-data records
 * (kinds `e2e.*`, one record per key, device or queued message), so it
 * survives restarts with no new store area. Each record gets a stream
 * position when written: /sync reports device-list changes and to-device
 * messages by those positions.
 *
 * The server checks shapes and ownership (a device uploads only its own
 * keys; a peer speaks only for its own users), not signatures: clients
 * verify every signature themselves, and must, since a server could lie.
 */
import { encodeBase64Url } from '../../core/base64.ts';
import { type JsonObject, type JsonValue, isJsonObject } from '../../core/json.ts';
import type { Engine } from '../engine.ts';
import type { ClientDataRecord, OutboxEntry } from '../store/types.ts';

export const E2E_KIND = {
  deviceKeys: 'e2e.device_keys',
  otk: 'e2e.otk',
  fallback: 'e2e.fallback',
  crossSigning: 'e2e.cross_signing',
  userSigs: 'e2e.user_signatures',
  deviceList: 'e2e.device_list',
  toDevice: 'e2e.to_device',
  remote: 'e2e.remote',
} as const;

/** To-device messages queued per device; past it the oldest are dropped (a device that never syncs must not fill the store). */
export const MAX_TO_DEVICE_PER_DEVICE = 1000;
/** One-time keys stored per device (clients keep ~50 uploaded). */
export const MAX_OTKS_PER_DEVICE = 1000;
/** Devices cached per remote user. */
const MAX_REMOTE_DEVICES = 1000;
/** Recently seen (origin, message_id) of m.direct_to_device, so an outbox retry is not delivered twice. */
const SEEN_MESSAGE_IDS = 10_000;

export type CrossSigningUse = 'master' | 'self_signing' | 'user_signing';

interface FallbackKey {
  key_id: string;
  key: JsonValue;
  used: boolean;
}

export interface ToDeviceItem {
  stream: number;
  key: string;
  event: JsonObject;
}

/** What this server knows of a remote user's devices (kept up to date by m.device_list_update). */
export interface RemoteDevices {
  /** Their server's stream_id for the list; absent when the list is not cached (only a change was noted). */
  stream_id?: number;
  devices?: Record<string, JsonObject>;
  master_key?: JsonObject;
  self_signing_key?: JsonObject;
}

const devKey = (userId: string, deviceId: string) => `${userId}\n${deviceId}`;

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

export class E2ee {
  /** user → device → signed device keys */
  readonly deviceKeys = new Map<string, Map<string, JsonObject>>();
  /** `user\ndevice` → `algorithm:key_id` → key */
  private readonly otks = new Map<string, Map<string, JsonValue>>();
  /** `user\ndevice` → algorithm → fallback key */
  private readonly fallbacks = new Map<string, Map<string, FallbackKey>>();
  /** user → use → cross-signing key */
  private readonly crossSigning = new Map<string, Map<CrossSigningUse, JsonObject>>();
  /** signer → target user → signatures the signer's user-signing key made of the target's master key */
  private readonly userSigs = new Map<string, Map<string, JsonObject>>();
  /** signer → target user → sync position of the signer's last signature of the target's master key */
  private readonly userSigsAt = new Map<string, Map<string, number>>();
  /** local user → { stream_id (federation), stream (sync position of the last change) } */
  private readonly lists = new Map<string, { stream_id: number; stream: number }>();
  /** `user\ndevice` → queued to-device messages, in stream order */
  private readonly toDevice = new Map<string, ToDeviceItem[]>();
  /** remote user → cached devices, and the sync position of the last change */
  private readonly remote = new Map<string, { info: RemoteDevices; stream: number }>();
  private readonly resyncing = new Map<string, Promise<void>>();
  private readonly seenMessageIds = new Set<string>();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly e: Engine,
    /** The device IDs of a local user's account (to-device `*` reaches devices without keys too). */
    private readonly devicesOf: (userId: string) => string[],
  ) {}

  // ---- loading and writing -------------------------------------------------------

  load(records: readonly ClientDataRecord[]): void {
    for (const r of records) {
      if (!r.kind.startsWith('e2e.')) continue;
      const i = r.key.indexOf('\n');
      const [a, b] = i < 0 ? [r.key, ''] : [r.key.slice(0, i), r.key.slice(i + 1)];
      const stream = r.stream ?? 0;
      switch (r.kind) {
        case E2E_KIND.deviceKeys:
          if (isJsonObject(r.value)) this.userMap(this.deviceKeys, r.user_id).set(r.key, r.value);
          break;
        case E2E_KIND.otk:
          this.keyMap(this.otks, r.user_id, a).set(b, r.value);
          break;
        case E2E_KIND.fallback:
          if (isJsonObject(r.value)) this.keyMap(this.fallbacks, r.user_id, a).set(b, r.value as unknown as FallbackKey);
          break;
        case E2E_KIND.crossSigning:
          if (isJsonObject(r.value)) this.userMap(this.crossSigning, r.user_id).set(r.key as CrossSigningUse, r.value);
          break;
        case E2E_KIND.userSigs:
          if (isJsonObject(r.value)) this.userMap(this.userSigs, r.user_id).set(r.key, r.value);
          this.userMap(this.userSigsAt, r.user_id).set(r.key, stream);
          break;
        case E2E_KIND.deviceList:
          this.lists.set(r.user_id, { stream_id: Number((r.value as { stream_id?: unknown })?.stream_id) || 0, stream });
          break;
        case E2E_KIND.toDevice:
          if (isJsonObject(r.value)) this.queue(r.user_id, a).push({ stream, key: r.key, event: r.value });
          break;
        case E2E_KIND.remote:
          if (isJsonObject(r.value)) this.remote.set(r.user_id, { info: r.value as RemoteDevices, stream });
          break;
      }
    }
    for (const q of this.toDevice.values()) q.sort((x, y) => x.stream - y.stream);
  }

  /** Called after every committed change a /sync could report (to-device, device lists, key counts). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.e.log('warn', 'an e2ee change listener threw', { error: String(err) });
      }
    }
  }

  private record(userId: string, kind: string, key: string, value: JsonValue): ClientDataRecord {
    return { user_id: userId, kind, key, value, stream: this.e.nextStream() };
  }

  private async write(
    put: ClientDataRecord[],
    del: { user_id: string; kind: string; key: string }[] = [],
    outbox: OutboxEntry[] = [],
    extra: ClientDataRecord[] = [],
  ): Promise<void> {
    if (put.length + del.length + outbox.length + extra.length === 0) return;
    await this.e.commit({ clientData: [...put, ...extra], clientDataDelete: del, outboxPut: outbox });
    if (outbox.length > 0) this.e.outbox.added(outbox);
    this.changed();
  }

  private userMap<V>(m: Map<string, Map<string, V>>, userId: string): Map<string, V> {
    let inner = m.get(userId);
    if (!inner) {
      inner = new Map();
      m.set(userId, inner);
    }
    return inner;
  }

  private keyMap<V>(m: Map<string, Map<string, V>>, userId: string, deviceId: string): Map<string, V> {
    return this.userMap(m, devKey(userId, deviceId));
  }

  private queue(userId: string, deviceId: string): ToDeviceItem[] {
    let q = this.toDevice.get(devKey(userId, deviceId));
    if (!q) {
      q = [];
      this.toDevice.set(devKey(userId, deviceId), q);
    }
    return q;
  }

  /** The servers sharing a joined room with `userId` (where its device-list and signing-key updates go). */
  serversSharing(userId: string): Set<string> {
    const out = new Set<string>();
    for (const room of this.e.rooms.values()) {
      if (room.currentGroup < 0 || room.membership(userId) !== 'join') continue;
      for (const s of room.joinedServers()) if (s !== this.e.serverName) out.add(s);
    }
    return out;
  }

  /** Whether a local user shares a joined room with `userId`. */
  sharesRoomWithLocal(userId: string): boolean {
    for (const room of this.e.rooms.values()) {
      if (room.currentGroup < 0 || room.membership(userId) !== 'join') continue;
      if (room.members().some((m) => m.membership === 'join' && this.e.isLocalUser(m.userId))) return true;
    }
    return false;
  }

  // ---- device keys -----------------------------------------------------------------

  getDeviceKeys(userId: string, deviceId: string): JsonObject | undefined {
    return this.deviceKeys.get(userId)?.get(deviceId);
  }

  /** Stores a device's (already validated) keys; a change is a device-list update. */
  async setDeviceKeys(userId: string, deviceId: string, keys: JsonObject): Promise<void> {
    const before = this.getDeviceKeys(userId, deviceId);
    if (before && JSON.stringify(before) === JSON.stringify(keys)) return;
    this.userMap(this.deviceKeys, userId).set(deviceId, keys);
    const rec = this.record(userId, E2E_KIND.deviceKeys, deviceId, keys);
    await this.deviceListChanged(userId, [{ deviceId, keys }], [rec]);
  }

  /**
   * A local user's device list changed: a new position for their /sync
   * watchers, and one m.device_list_update per device to every server
   * sharing a room with them (through the outbox: durable across partitions).
   */
  private async deviceListChanged(
    userId: string,
    devices: { deviceId: string; keys?: JsonObject; deleted?: boolean }[],
    put: ClientDataRecord[],
    del: { user_id: string; kind: string; key: string }[] = [],
  ): Promise<void> {
    let stream_id = this.lists.get(userId)?.stream_id ?? 0;
    const servers = this.serversSharing(userId);
    const outbox: OutboxEntry[] = [];
    for (const d of devices) {
      const prev = stream_id;
      stream_id++;
      const content: JsonObject = {
        user_id: userId,
        device_id: d.deviceId,
        stream_id,
        prev_id: prev > 0 ? [prev] : [],
        ...(d.deleted ? { deleted: true } : {}),
        ...(d.keys ? { keys: d.keys } : {}),
      };
      const name = d.deleted ? undefined : this.displayNames?.(userId).get(d.deviceId);
      if (name) content.device_display_name = name;
      outbox.push(...this.e.outbox.entriesFor(servers, { edu: { edu_type: 'm.device_list_update', content } }));
    }
    const listRec = this.record(userId, E2E_KIND.deviceList, '', { stream_id });
    this.lists.set(userId, { stream_id, stream: listRec.stream! });
    await this.write([...put, listRec], del, outbox);
  }

  /** A device with keys was renamed: watchers and the servers sharing rooms see the new name. */
  async deviceRenamed(userId: string, deviceId: string): Promise<void> {
    const keys = this.getDeviceKeys(userId, deviceId);
    if (keys) await this.deviceListChanged(userId, [{ deviceId, keys }], []);
  }

  /** The devices of a local user were deleted: their keys and queued messages go, and the servers sharing rooms hear it. */
  async devicesDeleted(userId: string, deviceIds: readonly string[]): Promise<void> {
    const del: { user_id: string; kind: string; key: string }[] = [];
    const gone: { deviceId: string; deleted: true }[] = [];
    for (const deviceId of deviceIds) {
      const had = this.deviceKeys.get(userId)?.delete(deviceId);
      if (had) del.push({ user_id: userId, kind: E2E_KIND.deviceKeys, key: deviceId });
      for (const id of this.otks.get(devKey(userId, deviceId))?.keys() ?? []) del.push({ user_id: userId, kind: E2E_KIND.otk, key: `${deviceId}\n${id}` });
      for (const alg of this.fallbacks.get(devKey(userId, deviceId))?.keys() ?? []) del.push({ user_id: userId, kind: E2E_KIND.fallback, key: `${deviceId}\n${alg}` });
      for (const m of this.toDevice.get(devKey(userId, deviceId)) ?? []) del.push({ user_id: userId, kind: E2E_KIND.toDevice, key: m.key });
      this.otks.delete(devKey(userId, deviceId));
      this.fallbacks.delete(devKey(userId, deviceId));
      this.toDevice.delete(devKey(userId, deviceId));
      gone.push({ deviceId, deleted: true });
    }
    if (gone.length === 0) return;
    await this.deviceListChanged(userId, gone, [], del);
  }

  // ---- one-time and fallback keys ---------------------------------------------------------

  /** Adds one-time keys; an ID already held with different content is refused (returns its ID). */
  async addOneTimeKeys(userId: string, deviceId: string, keys: Record<string, JsonValue>): Promise<string | undefined> {
    const held = this.otks.get(devKey(userId, deviceId));
    for (const [id, v] of Object.entries(keys)) {
      const old = held?.get(id);
      if (old !== undefined && JSON.stringify(old) !== JSON.stringify(v)) return id;
    }
    const fresh = Object.entries(keys).filter(([id]) => !held?.has(id));
    if ((held?.size ?? 0) + fresh.length > MAX_OTKS_PER_DEVICE) return `(more than ${MAX_OTKS_PER_DEVICE} one-time keys)`;
    const map = this.keyMap(this.otks, userId, deviceId);
    const put: ClientDataRecord[] = [];
    for (const [id, v] of fresh) {
      map.set(id, v);
      put.push(this.record(userId, E2E_KIND.otk, `${deviceId}\n${id}`, v));
    }
    await this.write(put);
    return undefined;
  }

  /** Replaces the fallback key of each algorithm given (a new key is unused). */
  async setFallbackKeys(userId: string, deviceId: string, keys: Record<string, JsonValue>): Promise<void> {
    const map = this.keyMap(this.fallbacks, userId, deviceId);
    const put: ClientDataRecord[] = [];
    for (const [id, key] of Object.entries(keys)) {
      const alg = id.slice(0, id.indexOf(':'));
      const old = map.get(alg);
      if (old && old.key_id === id && JSON.stringify(old.key) === JSON.stringify(key)) continue;
      const fb: FallbackKey = { key_id: id, key, used: false };
      map.set(alg, fb);
      put.push(this.record(userId, E2E_KIND.fallback, `${deviceId}\n${alg}`, fb as unknown as JsonObject));
    }
    await this.write(put);
  }

  oneTimeKeyCounts(userId: string, deviceId: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const id of this.otks.get(devKey(userId, deviceId))?.keys() ?? []) {
      const alg = id.slice(0, id.indexOf(':'));
      out[alg] = (out[alg] ?? 0) + 1;
    }
    return out;
  }

  unusedFallbackTypes(userId: string, deviceId: string): string[] {
    return [...(this.fallbacks.get(devKey(userId, deviceId)) ?? [])].filter(([, f]) => !f.used).map(([alg]) => alg);
  }

  /**
   * Claims a key per (user, device, algorithm) of local users: a one-time key
   * once only (taken in memory at once, so two concurrent claims never get the
   * same key), else the fallback key (reused until replaced, marked used).
   */
  async claimLocal(request: Record<string, Record<string, string>>): Promise<Record<string, Record<string, Record<string, JsonValue>>>> {
    const out: Record<string, Record<string, Record<string, JsonValue>>> = {};
    const put: ClientDataRecord[] = [];
    const del: { user_id: string; kind: string; key: string }[] = [];
    for (const [userId, devices] of Object.entries(request)) {
      for (const [deviceId, alg] of Object.entries(devices)) {
        const otks = this.otks.get(devKey(userId, deviceId));
        let found: [string, JsonValue] | undefined;
        for (const [id, v] of otks ?? []) {
          if (id.startsWith(`${alg}:`)) {
            found = [id, v];
            break;
          }
        }
        if (found) {
          otks!.delete(found[0]);
          del.push({ user_id: userId, kind: E2E_KIND.otk, key: `${deviceId}\n${found[0]}` });
        } else {
          const fb = this.fallbacks.get(devKey(userId, deviceId))?.get(alg);
          if (!fb) continue;
          found = [fb.key_id, fb.key];
          if (!fb.used) {
            fb.used = true;
            put.push(this.record(userId, E2E_KIND.fallback, `${deviceId}\n${alg}`, fb as unknown as JsonObject));
          }
        }
        out[userId] ??= {};
        out[userId]![deviceId] = { [found[0]]: found[1] };
      }
    }
    await this.write(put, del);
    return out;
  }

  // ---- cross-signing -----------------------------------------------------------------

  crossSigningKey(userId: string, use: CrossSigningUse): JsonObject | undefined {
    return this.crossSigning.get(userId)?.get(use);
  }

  /** Stores cross-signing keys (validated by the caller); the servers sharing rooms get m.signing_key_update. */
  async setCrossSigningKeys(userId: string, keys: Partial<Record<CrossSigningUse, JsonObject>>): Promise<void> {
    const put: ClientDataRecord[] = [];
    const map = this.userMap(this.crossSigning, userId) as Map<CrossSigningUse, JsonObject>;
    for (const [use, key] of Object.entries(keys) as [CrossSigningUse, JsonObject][]) {
      map.set(use, key);
      put.push(this.record(userId, E2E_KIND.crossSigning, use, key));
    }
    await this.publicKeysChanged(userId, put);
  }

  /** The master or self-signing key changed: a device-list position for watchers, m.signing_key_update for peers. */
  private async publicKeysChanged(userId: string, put: ClientDataRecord[]): Promise<void> {
    if (put.length === 0) return;
    const master = this.crossSigningKey(userId, 'master');
    const self = this.crossSigningKey(userId, 'self_signing');
    const content: JsonObject = { user_id: userId, ...(master ? { master_key: master } : {}), ...(self ? { self_signing_key: self } : {}) };
    const outbox = this.e.outbox.entriesFor(this.serversSharing(userId), { edu: { edu_type: 'm.signing_key_update', content } });
    const list = this.lists.get(userId) ?? { stream_id: 0, stream: 0 };
    const listRec = this.record(userId, E2E_KIND.deviceList, '', { stream_id: list.stream_id });
    this.lists.set(userId, { stream_id: list.stream_id, stream: listRec.stream! });
    await this.write([...put, listRec], [], outbox);
  }

  /**
   * Merges signatures made by `signer` into a key: one of their own devices
   * or cross-signing keys (everyone sees them), or another user's master key
   * (only the signer sees them). Returns an error sentence, or undefined.
   */
  async addSignatures(signer: string, target: string, keyId: string, signed: JsonObject): Promise<string | undefined> {
    const sigs = isJsonObject(signed.signatures) ? signed.signatures[signer] : undefined;
    if (!isJsonObject(sigs) || Object.keys(sigs).length === 0) return `no signatures by ${signer}`;
    const merge = (key: JsonObject): JsonObject => {
      const all = isJsonObject(key.signatures) ? key.signatures : {};
      const mine = isJsonObject(all[signer]) ? all[signer] : {};
      return { ...key, signatures: { ...all, [signer]: { ...mine, ...sigs } } };
    };
    if (target === signer) {
      const device = this.getDeviceKeys(target, keyId);
      if (device) {
        const next = merge(device);
        this.userMap(this.deviceKeys, target).set(keyId, next);
        await this.deviceListChanged(target, [{ deviceId: keyId, keys: next }], [this.record(target, E2E_KIND.deviceKeys, keyId, next)]);
        return undefined;
      }
      for (const use of ['master', 'self_signing', 'user_signing'] as const) {
        const key = this.crossSigningKey(target, use);
        if (!key || !isJsonObject(key.keys) || !Object.keys(key.keys).some((k) => k === `ed25519:${keyId}`)) continue;
        const next = merge(key);
        this.userMap(this.crossSigning, target).set(use, next);
        await this.publicKeysChanged(target, [this.record(target, E2E_KIND.crossSigning, use, next)]);
        return undefined;
      }
      return `${keyId} is neither a device nor a cross-signing key of ${target}`;
    }
    const theirs = this.userMap(this.userSigs, signer);
    const old = theirs.get(target) ?? {};
    const next = { ...old, ...sigs };
    theirs.set(target, next);
    const rec = this.record(signer, E2E_KIND.userSigs, target, next);
    // The signer's devices re-query the target (device_lists.changed): that is how they learn the
    // target is now verified — the signature is in the master key /keys/query shows the signer.
    this.userMap(this.userSigsAt, signer).set(target, rec.stream!);
    await this.write([rec]);
    return undefined;
  }

  /** A master key as `viewer` sees it: with the signatures the viewer's user-signing key made. */
  masterKeyFor(userId: string, viewer: string | undefined, key: JsonObject): JsonObject {
    const extra = viewer ? this.userSigs.get(viewer)?.get(userId) : undefined;
    if (!extra || !viewer) return key;
    const all = isJsonObject(key.signatures) ? key.signatures : {};
    const mine = isJsonObject(all[viewer]) ? all[viewer] : {};
    return { ...key, signatures: { ...all, [viewer]: { ...mine, ...extra } } };
  }

  // ---- queries of local users (Client-Server and federation) ----------------------------------

  /** device_keys / master_keys / self_signing_keys (/ user_signing_keys of the viewer) for local users. */
  queryLocal(request: Record<string, readonly string[]>, viewer: string | undefined): JsonObject {
    const device_keys: JsonObject = {};
    const master_keys: JsonObject = {};
    const self_signing_keys: JsonObject = {};
    const user_signing_keys: JsonObject = {};
    for (const [userId, wanted] of Object.entries(request)) {
      const devices = this.deviceKeys.get(userId);
      const out: JsonObject = {};
      for (const [id, keys] of devices ?? []) {
        if (wanted.length > 0 && !wanted.includes(id)) continue;
        out[id] = this.withDisplayName(userId, id, keys, viewer);
      }
      if (this.e.isLocalUser(userId)) device_keys[userId] = out;
      const master = this.crossSigningKey(userId, 'master');
      if (master) master_keys[userId] = this.masterKeyFor(userId, viewer, master);
      const self = this.crossSigningKey(userId, 'self_signing');
      if (self) self_signing_keys[userId] = self;
      const usk = viewer === userId ? this.crossSigningKey(userId, 'user_signing') : undefined;
      if (usk) user_signing_keys[userId] = usk;
    }
    return { device_keys, master_keys, self_signing_keys, ...(viewer !== undefined ? { user_signing_keys } : {}) };
  }

  private displayNames?: (userId: string) => Map<string, string>;

  /** Where the device display names come from (the accounts); shown to the user's own devices and peers as `unsigned`. */
  setDisplayNames(lookup: (userId: string) => Map<string, string>): void {
    this.displayNames = lookup;
  }

  private withDisplayName(userId: string, deviceId: string, keys: JsonObject, _viewer: string | undefined): JsonObject {
    const name = this.displayNames?.(userId).get(deviceId);
    if (!name) return keys;
    return { ...keys, unsigned: { ...(isJsonObject(keys.unsigned) ? keys.unsigned : {}), device_display_name: name } };
  }

  /** The `user_devices` answer for a local user. */
  userDevices(userId: string): JsonObject {
    const devices: JsonObject[] = [];
    const names = this.displayNames?.(userId);
    for (const [id, keys] of this.deviceKeys.get(userId) ?? []) {
      const name = names?.get(id);
      devices.push({ device_id: id, keys, ...(name ? { device_display_name: name } : {}) });
    }
    const master = this.crossSigningKey(userId, 'master');
    const self = this.crossSigningKey(userId, 'self_signing');
    return {
      user_id: userId,
      stream_id: this.lists.get(userId)?.stream_id ?? 0,
      devices,
      ...(master ? { master_key: master } : {}),
      ...(self ? { self_signing_key: self } : {}),
    };
  }

  // ---- device-list positions (for /sync and /keys/changes) --------------------------------------

  /** The sync position of the last change to `userId`'s devices or cross-signing keys (local or remote). */
  changedAt(userId: string): number {
    return this.lists.get(userId)?.stream ?? this.remote.get(userId)?.stream ?? 0;
  }

  /** The users whose master key `signer` signed, each with the sync position of the last such signature. */
  signedBy(signer: string): ReadonlyMap<string, number> {
    return this.userSigsAt.get(signer) ?? new Map();
  }

  // ---- to-device --------------------------------------------------------------------------

  /**
   * Queues to-device messages: local recipients' queues, and one
   * m.direct_to_device EDU per remote server through the outbox. `extra` is
   * written in the same transaction (the client's transaction-ID record).
   */
  async sendToDevice(
    sender: string,
    type: string,
    messages: Record<string, Record<string, JsonObject>>,
    extra: ClientDataRecord[] = [],
  ): Promise<void> {
    const put: ClientDataRecord[] = [];
    const del: { user_id: string; kind: string; key: string }[] = [];
    const remote = new Map<string, JsonObject>();
    for (const [userId, byDevice] of Object.entries(messages)) {
      if (this.e.isLocalUser(userId)) {
        for (const [deviceId, content] of Object.entries(byDevice)) {
          const targets = deviceId === '*' ? this.devicesOf(userId) : this.devicesOf(userId).filter((d) => d === deviceId);
          for (const d of targets) this.enqueue(userId, d, { sender, type, content }, put, del);
        }
      } else if (userId.startsWith('@') && userId.includes(':')) {
        const server = serverOf(userId);
        if (server === this.e.serverName) continue; // a local user that does not exist
        const m = remote.get(server) ?? {};
        m[userId] = byDevice;
        remote.set(server, m);
      }
    }
    const outbox: OutboxEntry[] = [];
    for (const [server, msgs] of remote) {
      const content: JsonObject = { sender, type, message_id: encodeBase64Url(this.e.random(12)), messages: msgs };
      outbox.push(...this.e.outbox.entriesFor([server], { edu: { edu_type: 'm.direct_to_device', content } }));
    }
    await this.write(put, del, outbox, extra);
  }

  private enqueue(userId: string, deviceId: string, event: JsonObject, put: ClientDataRecord[], del: { user_id: string; kind: string; key: string }[]): void {
    const q = this.queue(userId, deviceId);
    const stream = this.e.nextStream();
    const key = `${deviceId}\n${String(stream).padStart(15, '0')}`;
    q.push({ stream, key, event });
    put.push({ user_id: userId, kind: E2E_KIND.toDevice, key, value: event, stream });
    while (q.length > MAX_TO_DEVICE_PER_DEVICE) {
      const old = q.shift()!;
      del.push({ user_id: userId, kind: E2E_KIND.toDevice, key: old.key });
      this.e.log('warn', 'a device has too many to-device messages queued: the oldest is dropped', { user: userId, device: deviceId });
    }
  }

  /** The device's queued messages up to `upTo`, in order. */
  pendingToDevice(userId: string, deviceId: string, upTo: number): ToDeviceItem[] {
    return (this.toDevice.get(devKey(userId, deviceId)) ?? []).filter((m) => m.stream <= upTo);
  }

  /** The device synced with a token at `pos`: the messages delivered up to it are done with. */
  async acknowledgeToDevice(userId: string, deviceId: string, pos: number): Promise<void> {
    const q = this.toDevice.get(devKey(userId, deviceId));
    if (!q || q.length === 0 || q[0]!.stream > pos) return;
    const done = q.filter((m) => m.stream <= pos);
    this.toDevice.set(
      devKey(userId, deviceId),
      q.filter((m) => m.stream > pos),
    );
    await this.e.commit({ clientDataDelete: done.map((m) => ({ user_id: userId, kind: E2E_KIND.toDevice, key: m.key })) });
  }

  // ---- federation: EDUs in -------------------------------------------------------------------

  /** m.direct_to_device from `origin`: messages of its users to ours. */
  async onDirectToDevice(origin: string, c: JsonObject): Promise<void> {
    if (typeof c.sender !== 'string' || serverOf(c.sender) !== origin || typeof c.type !== 'string' || !isJsonObject(c.messages)) return;
    if (typeof c.message_id === 'string') {
      const id = `${origin}\n${c.message_id}`;
      if (this.seenMessageIds.has(id)) return;
      this.seenMessageIds.add(id);
      if (this.seenMessageIds.size > SEEN_MESSAGE_IDS) this.seenMessageIds.delete(this.seenMessageIds.values().next().value!);
    }
    const put: ClientDataRecord[] = [];
    const del: { user_id: string; kind: string; key: string }[] = [];
    let n = 0;
    for (const [userId, byDevice] of Object.entries(c.messages)) {
      if (!this.e.isLocalUser(userId) || !isJsonObject(byDevice)) continue;
      for (const [deviceId, content] of Object.entries(byDevice)) {
        if (!isJsonObject(content)) continue;
        const targets = deviceId === '*' ? this.devicesOf(userId) : this.devicesOf(userId).filter((d) => d === deviceId);
        for (const d of targets) {
          if (++n > MAX_TO_DEVICE_PER_DEVICE) break;
          this.enqueue(userId, d, { sender: c.sender, type: c.type, content }, put, del);
        }
      }
    }
    await this.write(put, del);
  }

  /**
   * m.device_list_update: applied to the cached list when it follows on
   * (prev_id names the cached stream_id); otherwise the list is fetched
   * again with user_devices. Only for users sharing a room with ours.
   */
  async onDeviceListUpdate(origin: string, c: JsonObject): Promise<void> {
    const userId = c.user_id;
    if (typeof userId !== 'string' || serverOf(userId) !== origin || typeof c.device_id !== 'string') return;
    if (!this.sharesRoomWithLocal(userId)) return;
    const streamId = typeof c.stream_id === 'number' ? c.stream_id : undefined;
    const prev = Array.isArray(c.prev_id) ? c.prev_id.filter((x): x is number => typeof x === 'number') : [];
    const cached = this.remote.get(userId)?.info;
    if (cached?.stream_id !== undefined && streamId !== undefined && streamId <= cached.stream_id) return; // seen already
    const followsOn = cached?.stream_id !== undefined && cached.devices && (prev.includes(cached.stream_id) || (prev.length === 0 && cached.stream_id === 0));
    if (followsOn && streamId !== undefined) {
      const devices = { ...cached!.devices };
      if (c.deleted === true) delete devices[c.device_id];
      else if (isJsonObject(c.keys) && Object.keys(devices).length < MAX_REMOTE_DEVICES) {
        devices[c.device_id] = { device_id: c.device_id, keys: c.keys, ...(typeof c.device_display_name === 'string' ? { device_display_name: c.device_display_name } : {}) };
      }
      await this.setRemote(userId, { ...cached!, stream_id: streamId, devices });
      return;
    }
    // A gap (or nothing cached): note the change now, then fetch the whole list.
    await this.setRemote(userId, cached ?? {});
    void this.resync(userId);
  }

  async onSigningKeyUpdate(origin: string, c: JsonObject): Promise<void> {
    const userId = c.user_id;
    if (typeof userId !== 'string' || serverOf(userId) !== origin || !this.sharesRoomWithLocal(userId)) return;
    const info = { ...(this.remote.get(userId)?.info ?? {}) };
    if (isJsonObject(c.master_key)) info.master_key = c.master_key;
    if (isJsonObject(c.self_signing_key)) info.self_signing_key = c.self_signing_key;
    await this.setRemote(userId, info);
  }

  private async setRemote(userId: string, info: RemoteDevices): Promise<void> {
    const rec = this.record(userId, E2E_KIND.remote, '', info as unknown as JsonObject);
    this.remote.set(userId, { info, stream: rec.stream! });
    await this.write([rec]);
  }

  /** Fetches a remote user's whole device list (user_devices) into the cache; one at a time per user. */
  resync(userId: string): Promise<void> {
    const running = this.resyncing.get(userId);
    if (running) return running;
    const p = (async () => {
      try {
        const res = await this.e.transport.request(serverOf(userId), { kind: 'user_devices', user_id: userId }, { timeoutMs: 10_000 });
        if (!res.ok) return;
        const info = parseUserDevices(userId, res.body);
        if (info) await this.setRemote(userId, info);
      } catch (err) {
        this.e.log('debug', 'device list resync failed; the next update tries again', { user: userId, error: String(err) });
      } finally {
        this.resyncing.delete(userId);
      }
    })();
    this.resyncing.set(userId, p);
    return p;
  }

  /**
   * The cached device list of a remote user, if it is complete and current.
   * Their server sends updates only while a room is shared: a cache older
   * than their (re)join of a room shared now may have missed some, so it is
   * not used (and is fetched again); nor is it when no room is shared.
   */
  cachedRemote(userId: string): RemoteDevices | undefined {
    const entry = this.remote.get(userId);
    const info = entry?.info;
    if (info?.stream_id === undefined || !info.devices) return undefined;
    let shared = false;
    for (const room of this.e.rooms.values()) {
      if (room.currentGroup < 0) continue;
      const joined = room.members().filter((m) => m.membership === 'join' && (m.userId === userId || this.e.isLocalUser(m.userId)));
      if (!joined.some((m) => m.userId === userId) || !joined.some((m) => m.userId !== userId)) continue;
      shared = true;
      // The room became shared (their join, or one of ours) after the cache was written.
      if (joined.some((m) => (room.events.get(m.eventId)?.stream ?? 0) > entry!.stream)) {
        void this.resync(userId);
        return undefined;
      }
    }
    return shared ? info : undefined;
  }
}

/** A user_devices answer as a cached list (devices limited; undefined when malformed). */
export function parseUserDevices(userId: string, body: JsonObject): RemoteDevices | undefined {
  if (body.user_id !== userId || typeof body.stream_id !== 'number' || !Array.isArray(body.devices)) return undefined;
  const devices: Record<string, JsonObject> = {};
  for (const d of body.devices.slice(0, MAX_REMOTE_DEVICES)) {
    if (!isJsonObject(d) || typeof d.device_id !== 'string' || !isJsonObject(d.keys)) continue;
    if (d.keys.user_id !== userId || d.keys.device_id !== d.device_id) continue;
    devices[d.device_id] = d;
  }
  return {
    stream_id: body.stream_id,
    devices,
    ...(isJsonObject(body.master_key) ? { master_key: body.master_key } : {}),
    ...(isJsonObject(body.self_signing_key) ? { self_signing_key: body.self_signing_key } : {}),
  };
}
