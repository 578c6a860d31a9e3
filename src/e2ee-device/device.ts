/**
 * An end-to-end encryption device: the Matrix Rust crypto
 * (`@matrix-org/matrix-sdk-crypto-wasm`'s OlmMachine) for one user's one
 * device, driven over the Client-Server API. Hearth's tab is such a device
 * (src/app/e2ee-tab.ts); nothing here is Hearth-specific beyond the
 * transport being a function, so a test or another host can run one too.
 *
 * Shape of the API (what verification, cross-signing and key backup build on):
 *
 *   const dev = await E2eeDevice.start({ userId, deviceId, request, storeName?, storePassphrase? })
 *   dev.machine                       the OlmMachine itself (verification, cross-signing, backup)
 *   dev.wasm                          the loaded crypto module (its classes: UserId, RoomId, …)
 *   dev.onSync(body)                  feed one /sync response's E2EE parts (to_device, device_lists,
 *                                     one-time key counts, unused fallback key types)
 *   dev.runSyncLoop()                 or let the device long-poll /sync itself (what the tab does);
 *   dev.holdSync(true|false)          hold what it receives (a device slow to sync: keys arrive late)
 *   dev.processOutgoingRequests()     send what the machine queued (keys upload/query/claim,
 *                                     to-device, signatures, backup); onSync and encrypt call it
 *   dev.sendOutgoing(request)         send one request the machine returned (e.g. a verification's)
 *   dev.encryptRoomEvent(roomId, type, content, members, historyVisibility?)
 *                                     shares the room key with the members' devices, then encrypts:
 *                                     the m.room.encrypted content to send
 *   dev.decryptRoomEvent(roomId, event)
 *                                     { ok: true, type, content } or { ok: false, reason, sessionId }
 *   dev.onRoomKeys(listener)          told (roomId, sessionId) when room keys arrive: retry those events
 *   dev.encryptAttachment(bytes) / decryptAttachment(ciphertext, file)
 *                                     encrypted media (the `file` object of an m.image/m.file content)
 *   dev.stop()                        ends the sync loop and frees the machine
 *
 * The call sequence follows the spec's "sending an encrypted message event"
 * and matrix-js-sdk's rust-crypto (RoomEncryptor / OutgoingRequestProcessor):
 * track the room's members, query their device keys, claim one-time keys for
 * devices without an Olm session, share the Megolm key by to-device
 * messages, then encrypt. No cryptography is done here — only plumbing.
 */
import type * as Wasm from '@matrix-org/matrix-sdk-crypto-wasm';

/** One Client-Server API call: `path` from `/_matrix/client/…`, JSON body as text; the answer's status and parsed JSON. */
export type CsRequest = (method: 'GET' | 'POST' | 'PUT', path: string, body?: string) => Promise<{ status: number; json: unknown }>;

export interface DeviceStartOptions {
  userId: string;
  deviceId: string;
  request: CsRequest;
  /** IndexedDB store name for the machine's keys and sessions; absent = in memory (Node, tests). */
  storeName?: string;
  /** Encrypts the IndexedDB store's secrets at rest (pickle key). */
  storePassphrase?: string;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
}

/** A to-device event as /sync delivers it (unchecked: listeners look at the fields they need). */
export interface ToDeviceEvent {
  type?: unknown;
  sender?: unknown;
  content?: unknown;
}

export type DecryptResult =
  | { ok: true; type: string; content: Record<string, unknown>; senderDevice?: string }
  | { ok: false; reason: 'missing-key' | 'unknown-index' | 'failed'; message: string; sessionId?: string };

/** What an encrypted attachment's `file` object holds (spec: EncryptedFile), minus `url`, which the caller adds once uploaded. */
export interface EncryptedFileInfo {
  v: string;
  key: { kty: string; key_ops: string[]; alg: string; k: string; ext: boolean };
  iv: string;
  hashes: Record<string, string>;
}

type WasmModule = typeof Wasm;
let loading: Promise<WasmModule> | undefined;

/** Loads the crypto WebAssembly once (lazily: the app's first screen does not need it). */
export function loadCrypto(): Promise<WasmModule> {
  loading ??= (async () => {
    const m = await import('@matrix-org/matrix-sdk-crypto-wasm');
    await m.initAsync();
    return m;
  })();
  return loading;
}

const SYNC_FILTER = JSON.stringify({
  room: { rooms: [], account_data: { types: [] } },
  presence: { types: [] },
  account_data: { types: [] },
});

export class E2eeDevice {
  private outgoingRunning?: Promise<void>;
  private outgoingAgain = false;
  private readonly roomKeyListeners = new Set<(roomId: string, sessionId: string) => void>();
  /** Told the to-device events of each sync once the machine has processed them (verification requests). */
  private readonly toDeviceListeners = new Set<(events: readonly ToDeviceEvent[]) => void>();
  /** Per room: the key-sharing step in flight (two sends in a room share once). */
  private readonly sharing = new Map<string, Promise<void>>();
  private stopped = false;
  private syncAbort?: AbortController;
  /** While set, the sync loop keeps what it receives to itself (holdSync). */
  private held?: { done: Promise<void>; release: () => void };

  private constructor(
    readonly wasm: WasmModule,
    readonly machine: Wasm.OlmMachine,
    readonly userId: string,
    readonly deviceId: string,
    /** This device's Client-Server API calls (cross-signing and key backup make some the machine does not queue). */
    readonly request: CsRequest,
    private readonly log: NonNullable<DeviceStartOptions['log']>,
  ) {
    machine.registerRoomKeyUpdatedCallback(async (infos) => {
      for (const info of infos) {
        const roomId = info.roomId.toString();
        const sessionId = info.sessionId;
        for (const l of this.roomKeyListeners) {
          try {
            l(roomId, sessionId);
          } catch (err) {
            this.log('warn', 'a room-key listener failed', { error: String(err) });
          }
        }
      }
    });
  }

  static async start(opts: DeviceStartOptions): Promise<E2eeDevice> {
    const wasm = await loadCrypto();
    const machine = await wasm.OlmMachine.initialize(new wasm.UserId(opts.userId), new wasm.DeviceId(opts.deviceId), opts.storeName, opts.storePassphrase);
    const dev = new E2eeDevice(wasm, machine, opts.userId, opts.deviceId, opts.request, opts.log ?? (() => {}));
    // The first requests upload this device's identity and one-time keys.
    await dev.processOutgoingRequests();
    return dev;
  }

  /** This device's public identity keys (for display and checks). */
  identityKeys(): { curve25519: string; ed25519: string } {
    const k = this.machine.identityKeys;
    return { curve25519: k.curve25519.toBase64(), ed25519: k.ed25519.toBase64() };
  }

  /** Told each sync's to-device events after the machine processed them (e.g. verification.ts finds requests). */
  onToDevice(listener: (events: readonly ToDeviceEvent[]) => void): () => void {
    this.toDeviceListeners.add(listener);
    return () => this.toDeviceListeners.delete(listener);
  }

  onRoomKeys(listener: (roomId: string, sessionId: string) => void): () => void {
    this.roomKeyListeners.add(listener);
    return () => this.roomKeyListeners.delete(listener);
  }

  // ---- sync ------------------------------------------------------------------

  /** Feeds one /sync response's end-to-end encryption fields to the machine, then sends what it queued. */
  async onSync(body: Record<string, unknown>): Promise<void> {
    const w = this.wasm;
    const toDevice = (body.to_device as { events?: unknown[] } | undefined)?.events ?? [];
    const lists = (body.device_lists ?? {}) as { changed?: unknown; left?: unknown };
    const userIds = (v: unknown) => (Array.isArray(v) ? v.filter((u): u is string => typeof u === 'string').map((u) => new w.UserId(u)) : []);
    const counts = new Map<string, number>();
    for (const [k, v] of Object.entries((body.device_one_time_keys_count ?? {}) as Record<string, unknown>)) if (typeof v === 'number') counts.set(k, v);
    const fallbackRaw = body.device_unused_fallback_key_types ?? body['org.matrix.msc2732.device_unused_fallback_key_types'];
    const fallback = Array.isArray(fallbackRaw) ? new Set(fallbackRaw.filter((x): x is string => typeof x === 'string')) : undefined;
    await this.machine.receiveSyncChanges(JSON.stringify(toDevice), new w.DeviceLists(userIds(lists.changed), userIds(lists.left)), counts, fallback);
    if (toDevice.length > 0) {
      for (const l of this.toDeviceListeners) {
        try {
          l(toDevice as ToDeviceEvent[]);
        } catch (err) {
          this.log('warn', 'a to-device listener failed', { error: String(err) });
        }
      }
    }
    await this.processOutgoingRequests();
  }

  /**
   * Long-polls /sync for this device (no rooms: only its to-device messages,
   * device-list changes and key counts) until `stop`; errors back off and retry.
   */
  async runSyncLoop(timeoutMs = 30_000): Promise<void> {
    this.syncAbort = new AbortController();
    const signal = this.syncAbort.signal;
    let since: string | undefined;
    let backoff = 500;
    while (!this.stopped && !signal.aborted) {
      try {
        const q = new URLSearchParams({ timeout: since ? String(timeoutMs) : '0', filter: SYNC_FILTER, ...(since ? { since } : {}) });
        const res = await this.request('GET', `/_matrix/client/v3/sync?${q}`);
        if (this.stopped) return;
        if (res.status !== 200) throw new Error(`/sync answered ${res.status}: ${JSON.stringify(res.json).slice(0, 200)}`);
        const body = res.json as Record<string, unknown>;
        while (this.held) await this.held.done;
        if (this.stopped) return;
        await this.onSync(body);
        if (typeof body.next_batch === 'string') since = body.next_batch;
        backoff = 500;
      } catch (err) {
        if (this.stopped) return;
        this.log('warn', 'the encryption device could not sync; retrying', { error: String(err) });
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  /**
   * Holds what the sync loop receives (to-device messages: room keys) until
   * released — a device that is slow to sync, on demand (tests, demos: a
   * message whose key arrives late).
   */
  holdSync(hold: boolean): void {
    if (hold && !this.held) {
      let release!: () => void;
      const done = new Promise<void>((r) => {
        release = r;
      });
      this.held = { done, release };
    } else if (!hold && this.held) {
      const h = this.held;
      this.held = undefined;
      h.release();
    }
  }

  // ---- outgoing requests ---------------------------------------------------------

  /**
   * Sends every request the machine has queued and tells it the answers; one
   * run at a time (a call while one runs makes it run once more after).
   */
  processOutgoingRequests(): Promise<void> {
    if (this.outgoingRunning) {
      this.outgoingAgain = true;
      return this.outgoingRunning;
    }
    const run = async () => {
      do {
        this.outgoingAgain = false;
        const requests = await this.machine.outgoingRequests();
        for (const r of requests) {
          try {
            await this.sendOutgoing(r);
          } catch (err) {
            // Left queued in the machine: the next run sends it again.
            this.log('warn', 'an encryption request failed', { type: r.type, error: String(err) });
          }
        }
      } while (this.outgoingAgain && !this.stopped);
    };
    this.outgoingRunning = run().finally(() => {
      this.outgoingRunning = undefined;
    });
    return this.outgoingRunning;
  }

  /** Sends one of the machine's requests and marks it sent (verification and backup requests come this way too). */
  async sendOutgoing(r: Wasm.KeysUploadRequest | Wasm.KeysQueryRequest | Wasm.KeysClaimRequest | Wasm.ToDeviceRequest | Wasm.SignatureUploadRequest | Wasm.RoomMessageRequest | Wasm.KeysBackupRequest): Promise<void> {
    const w = this.wasm;
    const enc = encodeURIComponent;
    let method: 'POST' | 'PUT' = 'POST';
    let path: string;
    if (r instanceof w.KeysUploadRequest) path = '/_matrix/client/v3/keys/upload';
    else if (r instanceof w.KeysQueryRequest) path = '/_matrix/client/v3/keys/query';
    else if (r instanceof w.KeysClaimRequest) path = '/_matrix/client/v3/keys/claim';
    else if (r instanceof w.SignatureUploadRequest) path = '/_matrix/client/v3/keys/signatures/upload';
    else if (r instanceof w.KeysBackupRequest) {
      method = 'PUT';
      path = `/_matrix/client/v3/room_keys/keys?version=${enc(r.version)}`;
    } else if (r instanceof w.ToDeviceRequest) {
      method = 'PUT';
      path = `/_matrix/client/v3/sendToDevice/${enc(r.event_type)}/${enc(r.txn_id)}`;
    } else if (r instanceof w.RoomMessageRequest) {
      method = 'PUT';
      path = `/_matrix/client/v3/rooms/${enc(r.room_id)}/send/${enc(r.event_type)}/${enc(r.txn_id)}`;
    } else throw new Error('unknown outgoing request');
    const res = await this.request(method, path, r.body);
    if (res.status !== 200) throw new Error(`${method} ${path.split('?')[0]} answered ${res.status}: ${JSON.stringify(res.json).slice(0, 300)}`);
    if (r.id !== undefined) await this.machine.markRequestAsSent(r.id, r.type, JSON.stringify(res.json));
  }

  // ---- rooms -------------------------------------------------------------------------

  /**
   * The `m.room.encrypted` content for an event in `roomId`: first makes sure
   * every device of `members` (joined and invited users) holds the room's
   * current Megolm key (key query, one-time key claim, to-device sharing).
   */
  async encryptRoomEvent(roomId: string, type: string, content: Record<string, unknown>, members: readonly string[], historyVisibility = 'shared'): Promise<Record<string, unknown>> {
    await this.shareRoomKey(roomId, members, historyVisibility);
    const w = this.wasm;
    const out = await this.machine.encryptRoomEvent(new w.RoomId(roomId), type, JSON.stringify(content));
    return JSON.parse(out) as Record<string, unknown>;
  }

  private shareRoomKey(roomId: string, members: readonly string[], historyVisibility: string): Promise<void> {
    const prev = this.sharing.get(roomId) ?? Promise.resolve();
    const next = prev
      .catch(() => undefined)
      .then(() => this.shareRoomKeyNow(roomId, members, historyVisibility));
    this.sharing.set(roomId, next);
    void next.finally(() => {
      if (this.sharing.get(roomId) === next) this.sharing.delete(roomId);
    });
    return next;
  }

  private async shareRoomKeyNow(roomId: string, members: readonly string[], historyVisibility: string): Promise<void> {
    const w = this.wasm;
    const users = () => members.map((u) => new w.UserId(u));
    await this.machine.updateTrackedUsers(users());
    // The key queries for newly tracked users are among the queued requests.
    await this.processOutgoingRequests();
    const claim = await this.machine.getMissingSessions(users());
    if (claim) await this.sendOutgoing(claim);
    const settings = new w.EncryptionSettings();
    settings.historyVisibility = historyVisibilityOf(w, historyVisibility);
    const toDevice = await this.machine.shareRoomKey(new w.RoomId(roomId), users(), settings);
    for (const r of toDevice) await this.sendOutgoing(r);
  }

  /** Decrypts a room event as the Client-Server API serves it (`type` m.room.encrypted, `content`, `sender`, `event_id`, `origin_server_ts`). */
  async decryptRoomEvent(roomId: string, event: Record<string, unknown>): Promise<DecryptResult> {
    const w = this.wasm;
    const sessionId = typeof (event.content as Record<string, unknown> | undefined)?.session_id === 'string' ? ((event.content as Record<string, unknown>).session_id as string) : undefined;
    try {
      const settings = new w.DecryptionSettings(w.TrustRequirement.Untrusted);
      const d = await this.machine.decryptRoomEvent(JSON.stringify(event), new w.RoomId(roomId), settings);
      const clear = JSON.parse(d.event) as { type?: unknown; content?: unknown };
      if (typeof clear.type !== 'string' || typeof clear.content !== 'object' || clear.content === null) {
        return { ok: false, reason: 'failed', message: 'the decrypted event has no type or content', ...(sessionId ? { sessionId } : {}) };
      }
      const senderDevice = d.senderDevice?.toString();
      return { ok: true, type: clear.type, content: clear.content as Record<string, unknown>, ...(senderDevice ? { senderDevice } : {}) };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const message = (err as { description?: string }).description ?? String(err);
      const reason = code === w.DecryptionErrorCode.MissingRoomKey ? 'missing-key' : code === w.DecryptionErrorCode.UnknownMessageIndex ? 'unknown-index' : 'failed';
      return { ok: false, reason, message, ...(sessionId ? { sessionId } : {}) };
    }
  }

  // ---- attachments ---------------------------------------------------------------------

  /** Encrypts a file for an encrypted room: the ciphertext to upload and the `file` info (add `url` once uploaded). */
  encryptAttachment(bytes: Uint8Array): { ciphertext: Uint8Array; file: EncryptedFileInfo } {
    const a = this.wasm.Attachment.encrypt(bytes);
    const info = JSON.parse(a.mediaEncryptionInfo ?? 'null') as EncryptedFileInfo | null;
    const ciphertext = a.encryptedData;
    if (!info) throw new Error('the attachment was encrypted without its key');
    return { ciphertext, file: info };
  }

  /** Decrypts a downloaded attachment with its `file` info (checks its SHA-256 first). */
  decryptAttachment(ciphertext: Uint8Array, file: EncryptedFileInfo): Uint8Array {
    const w = this.wasm;
    const info = { v: file.v, key: file.key, iv: file.iv, hashes: file.hashes };
    return w.Attachment.decrypt(new w.EncryptedAttachment(ciphertext, JSON.stringify(info)));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.syncAbort?.abort();
    this.holdSync(false);
    this.roomKeyListeners.clear();
    this.toDeviceListeners.clear();
    // The machine is freed once work in flight settles (a use after free throws inside the crypto).
    void (this.outgoingRunning ?? Promise.resolve()).finally(() => this.machine.close());
  }
}

function historyVisibilityOf(w: WasmModule, v: string): Wasm.HistoryVisibility {
  switch (v) {
    case 'invited':
      return w.HistoryVisibility.Invited;
    case 'joined':
      return w.HistoryVisibility.Joined;
    case 'world_readable':
      return w.HistoryVisibility.WorldReadable;
    default:
      return w.HistoryVisibility.Shared;
  }
}
