/**
 * The homeserver as the page sees it: what workers/homeserver.worker.ts
 * exposes over Comlink. It owns one homeserver — an IndexedDB database
 * guarded by a Web Lock so only one tab opens it — and acts for that
 * homeserver's one person (its first account).
 */
import * as Comlink from 'comlink';
import type { Ed25519Verifier } from '../core/ed25519.ts';
import type { JsonObject } from '../core/json.ts';
import { ClientApi, type ClientRequest, type ClientResponse } from '../server/client-api/index.ts';
import { hashPassword } from '../server/client-api/passwords.ts';
import { type ClientCrypto, type CreateRoomOptions, HomeserverClient, isEncryptedRoom } from '../server/client.ts';
import { TabE2ee } from './e2ee-tab.ts';
import { type EncryptionStatus, type PersonTrust, TabSecurity, type VerificationView } from './e2ee-security.ts';
import type { RestoreResult } from '../e2ee-device/backup.ts';
import type { EncryptedFileInfo } from '../e2ee-device/device.ts';
import { Homeserver } from '../server/homeserver.ts';
import type { ServerIdentity } from '../server/identity.ts';
import { type Logger, consoleLogger } from '../server/log.ts';
import { deleteIdbStore, listIdbStores, openIdbStore } from '../server/store/idb-store.ts';
import type { Transport } from '../server/transport/types.ts';
import type { Libp2pTransport } from '../net/libp2p-transport.ts';
import { RelayLink, type RelayStatus } from './relay-link.ts';
import type { TimelineRead, Update } from '../server/updates.ts';
import { type TraceMark, latencyTracing, setLatencyTracing, takeLatencyTrace, traceMark, traceNow } from '../server/latency-trace.ts';
import { type BackupFile, type BackupRequest, backupRunning, dropCachedMedia, restoreInto } from './backup-service.ts';
import { type PausableStore, pausableStore } from '../server/backup/pausable-store.ts';
import { MOVED_META, type MovedAway, parseMovedAway } from '../server/moved.ts';
import { forgetRoom } from '../server/client-api/forget.ts';
import { type PurgeResult, roomStoredBytes } from '../server/purge.ts';
import { retiredTransport } from '../server/transport/retired.ts';

export const DB_PREFIX = 'hearth-hs-';

export interface StartOptions {
  /** Reattach to this database (the tab's previous homeserver) if its lock is free. */
  dbName?: string;
  /** Relay multiaddrs to connect through. */
  relays?: string[];
  /**
   * Wait up to this many milliseconds for `dbName`'s lock (another tab is
   * handing the homeserver over) instead of starting a fresh homeserver;
   * fails if the lock does not come free in time.
   */
  waitForLockMs?: number;
}

export interface StartResult {
  dbName: string;
  serverName: string;
  userId?: string;
  displayName?: string;
  /** The person's avatar (mxc://), if they chose one. */
  avatarUrl?: string;
  /** Set when this homeserver moved away: this copy is read-only and off the network (src/server/moved.ts). */
  movedAway?: MovedAway;
}

/** What the network panel shows; fields the transport cannot tell yet are left at their "unknown" values. */
export interface NetworkStatus {
  serverName: string;
  relay: RelayStatus;
  /** Each peer server, with the display names of its users this homeserver knows (from the rooms they share). */
  peers: { peer: string; names: string[]; rttMs?: number; blocked: boolean; link?: 'direct' | 'relayed' | 'none' }[];
  /** Pending outbox entries per destination server. */
  outbox: Record<string, number>;
  /** Pending outbox entries per room (one per destination that still needs each event). */
  outboxByRoom: Record<string, number>;
  offline: boolean;
  /** False while the tab's homeserver has no network transport (it works alone). */
  available: boolean;
  /** How signatures are verified: in this worker, or by its helper workers (and how many). */
  verifier: string;
}

export type TransportFactory = (identity: ServerIdentity, relays: readonly string[]) => Promise<Transport>;

/**
 * Holds a Web Lock for the worker's lifetime (or until `release` resolves),
 * or returns false if another tab has it — at once, or after `waitMs`.
 */
async function tryLock(name: string, waitMs = 0, release: Promise<void> = new Promise<void>(() => {})): Promise<boolean> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) return true; // no Web Locks (Node tests): nothing to guard against
  return new Promise<boolean>((resolve) => {
    const grabbed = (lock: Lock | null) => {
      if (!lock) {
        resolve(false);
        return undefined;
      }
      resolve(true);
      return release; // held until the worker (tab) goes away
    };
    if (waitMs <= 0) {
      void locks.request(`hearth-db:${name}`, { ifAvailable: true }, grabbed);
      return;
    }
    locks.request(`hearth-db:${name}`, { signal: AbortSignal.timeout(waitMs) }, grabbed).catch(() => resolve(false));
  });
}

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return DB_PREFIX + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export class HomeserverService {
  private hs?: Homeserver;
  private client?: HomeserverClient;
  private dbName?: string;
  private store?: PausableStore;
  private readonly log: Logger = consoleLogger('hearth');
  private relayLink?: RelayLink;
  private readonly blocked = new Set<string>();
  private readonly rtts = new Map<string, number>();
  private clientApi?: Promise<ClientApi>;
  /** The tab as an end-to-end encryption device (e2ee-tab.ts), started once there is an account. */
  private e2ee?: Promise<TabE2ee>;
  /** The same, once started (decrypted events are read synchronously). */
  private e2eeUp?: TabE2ee;
  /** The room (and item count) the page shows: see `watchTimeline`. */
  private watched?: { roomId: string; limit: number };
  /** Counts timeline reads, so the page keeps the latest of a pushed and an asked-for one. */
  private timelineVersion = 0;

  constructor(
    private readonly makeTransport: TransportFactory,
    /** Signature verification off this thread (verify-helpers.ts); undefined = in-thread. */
    private readonly makeVerifier: () => Promise<Ed25519Verifier | undefined> = async () => undefined,
    /** Reads the relay configuration again when the relay stops answering (relay-config.ts); absent: never. */
    private readonly readRelayConfig?: () => Promise<string[] | undefined>,
  ) {}

  /** Databases of homeservers in this browser profile, and whether another tab holds each. */
  async listHomeservers(): Promise<{ dbName: string; inUse: boolean }[]> {
    let names: string[] = [];
    try {
      names = await listIdbStores(DB_PREFIX);
    } catch {
      return [];
    }
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    const held = new Set((await locks?.query())?.held?.map((l) => l.name) ?? []);
    return names.map((dbName) => ({ dbName, inUse: held.has(`hearth-db:${dbName}`) || dbName === this.dbName }));
  }

  /**
   * Deletes a homeserver's database from this browser profile — for good:
   * its key, account and rooms. Refused while any tab (this one included) has it open.
   */
  async deleteHomeserver(dbName: string): Promise<void> {
    if (!dbName.startsWith(DB_PREFIX)) throw new Error('not a homeserver database');
    if (dbName === this.dbName) throw new Error('this homeserver is open in this tab');
    let done!: () => void;
    const release = new Promise<void>((r) => {
      done = r;
    });
    if (!(await tryLock(dbName, 0, release))) throw new Error('this homeserver is open in another tab');
    try {
      await deleteIdbStore(dbName);
    } finally {
      done();
    }
  }

  /**
   * Whose a homeserver database no tab has open is (its first account), for
   * databases the page has no record of; reads it without starting it.
   */
  async describeHomeserver(dbName: string): Promise<{ userId?: string; displayName?: string }> {
    if (!dbName.startsWith(DB_PREFIX)) throw new Error('not a homeserver database');
    if (dbName === this.dbName) return { ...(this.hs ? this.whoami() : {}) };
    const store = await openIdbStore(dbName);
    try {
      const [a] = await store.listAccounts();
      return a ? { userId: a.user_id, displayName: a.display_name } : {};
    } finally {
      await store.close();
    }
  }

  async start(opts: StartOptions = {}): Promise<StartResult> {
    if (this.hs) return this.whoami();
    let dbName: string | undefined;
    if (opts.dbName && (await tryLock(opts.dbName, opts.waitForLockMs))) dbName = opts.dbName;
    if (!dbName && opts.waitForLockMs) throw new Error('the other tab did not let the homeserver go');
    if (!dbName) {
      dbName = randomName();
      if (!(await tryLock(dbName))) throw new Error('could not lock a fresh homeserver database');
    }
    // Pausable: a backup holds the writes while it reads one consistent copy (backup-service.ts).
    const store = pausableStore(await openIdbStore(dbName));
    this.store = store;
    // A moved-away homeserver stays off the network: the new copy answers to this name.
    const moved = parseMovedAway(await store.getMeta(MOVED_META));
    this.hs = await Homeserver.open({
      store,
      transport: (name, identity) => (moved ? retiredTransport(name) : this.makeTransport(identity, opts.relays ?? [])),
      log: this.log,
      verifier: await this.makeVerifier().catch(() => undefined),
    });
    this.client = new HomeserverClient(this.hs, this.clientCrypto());
    this.dbName = dbName;
    if (this.hs.accounts.size > 0 && !moved) void this.startE2ee().catch(() => undefined);
    this.watchRelay(opts.relays ?? []);
    this.startPinging();
    return this.whoami();
  }

  /**
   * One Client-Server API request (from the Service Worker, via the page's
   * bridge: src/app/sw-bridge.ts). The API handler is created on first use.
   * The answer's body is a fresh exact-size buffer, transferred to the page.
   */
  async handleClientRequest(req: ClientRequest): Promise<ClientResponse> {
    const res = await (await this.api()).handle(req);
    const body = res.body.slice();
    return Comlink.transfer({ ...res, body }, [body.buffer]);
  }

  /** The Client-Server API handler (and its per-user data), opened on first use. */
  private api(): Promise<ClientApi> {
    const hs = this.requireHs();
    this.clientApi ??= ClientApi.open(hs).catch((err: unknown) => {
      this.clientApi = undefined; // try again on the next request
      throw err;
    });
    return this.clientApi;
  }

  /**
   * Gives this tab's person a password, so a standard Matrix client (Element,
   * Hydrogen, a bot) can log in to this homeserver as them (m.login.password).
   */
  async setPassword(password: string): Promise<void> {
    if (typeof password !== 'string' || password.length < 8) throw new Error('choose a password of at least 8 characters');
    const hs = this.requireHs();
    const account = hs.requireLocalUser(this.me());
    const password_hash = await hashPassword(password);
    await hs.commit({ accounts: [{ ...account, password_hash }] });
    hs.accounts.set(account.user_id, { ...account, password_hash });
  }

  /** Whether this tab's person can log in from other clients (has a password). */
  hasPassword(): boolean {
    const me = [...this.requireHs().accounts.values()][0];
    return me?.password_hash !== undefined;
  }

  /**
   * Changes this tab's person's display name and/or avatar (an mxc:// URI;
   * "" removes it): the account, and a member event in every joined room.
   */
  async setProfile(change: { displayname?: string; avatar_url?: string }): Promise<StartResult> {
    if (change.displayname !== undefined && (typeof change.displayname !== 'string' || change.displayname.length > 256)) {
      throw new Error('a display name is at most 256 characters');
    }
    if (change.avatar_url !== undefined && change.avatar_url !== '' && !/^mxc:\/\/[^/]+\/[^/]+$/.test(change.avatar_url)) {
      throw new Error('an avatar must be an mxc:// URI');
    }
    const { displayname, avatar_url } = change;
    await this.c().setProfile(this.me(), {
      ...(displayname !== undefined ? { displayname: displayname.trim() } : {}),
      ...(avatar_url !== undefined ? { avatar_url } : {}),
    });
    return this.whoami();
  }

  whoami(): StartResult {
    const hs = this.requireHs();
    const me = [...hs.accounts.values()][0];
    return {
      dbName: this.dbName!,
      serverName: hs.serverName,
      ...(hs.identity.movedAway ? { movedAway: hs.identity.movedAway } : {}),
      ...(me ? { userId: me.user_id, displayName: me.display_name, ...(me.avatar_url ? { avatarUrl: me.avatar_url } : {}) } : {}),
    };
  }

  /**
   * An encrypted backup of this homeserver, as a file to download; with
   * mode 'move', this copy is retired once it is made (read-only, off the
   * network). See backup-service.ts and docs/data.md.
   */
  async backupHomeserver(req: BackupRequest): Promise<BackupFile> {
    const hs = this.requireHs();
    if (hs.identity.movedAway) throw new Error('this homeserver moved away: back it up from where it lives now');
    return backupRunning(hs, this.store!, req);
  }

  /**
   * Restores a backup file into a new database of this browser profile
   * (not started: the page reloads onto it). Nothing changes on failure.
   */
  async restoreBackup(file: Blob, passphrase: string): Promise<{ dbName: string; serverName: string; userId?: string; displayName?: string }> {
    const existing = (await this.listHomeservers()).map((h) => h.dbName);
    const dbName = randomName();
    if (!(await tryLock(dbName))) throw new Error('could not lock a fresh homeserver database');
    return { dbName, ...(await restoreInto(dbName, file, passphrase, existing)) };
  }

  /** Frees space: drops cached copies of other servers' media (downloaded again when shown). */
  freeSpace(): Promise<{ count: number; bytes: number }> {
    return dropCachedMedia(this.requireHs());
  }

  private requireHs(): Homeserver {
    if (!this.hs) throw new Error('the homeserver is not started yet');
    return this.hs;
  }

  private me(): string {
    const me = [...this.requireHs().accounts.values()][0];
    if (!me) throw new Error('no account yet: choose a display name first');
    return me.user_id;
  }

  private c(): HomeserverClient {
    this.requireHs();
    return this.client!;
  }

  async register(username: string, displayName: string): Promise<string> {
    const hs = this.requireHs();
    if (hs.accounts.size > 0) return this.me();
    const userId = await hs.register(username, displayName);
    void this.startE2ee().catch(() => undefined);
    return userId;
  }

  // ---- end-to-end encryption (e2ee-tab.ts, docs/e2ee.md) ----------------------------

  /** Starts the tab's encryption device (once); its failure is logged and retried on the next use. */
  private startE2ee(): Promise<TabE2ee> {
    this.e2ee ??= (async () => {
      const hs = this.requireHs();
      const persistent = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
      const tab = await TabE2ee.start(hs, await this.api(), this.me(), persistent ? { storePrefix: `hearth-crypto-${this.dbName}` } : {});
      // Previews of encrypted rooms: decrypt what is there (the page is told as each room reads).
      this.e2eeUp = tab;
      for (const room of hs.rooms.values()) if (isEncryptedRoom(room)) void tab.decryptEvents(room.roomId, undefined, true);
      // Cross-signing at onboarding, key backup, verification (e2ee-security.ts).
      void this.security(tab).catch(() => undefined);
      return tab;
    })().catch((err: unknown) => {
      this.log('error', 'the encryption device did not start', { error: String(err), stack: (err as Error)?.stack });
      this.e2ee = undefined;
      throw err;
    });
    return this.e2ee;
  }

  // ---- verification, cross-signing and recovery (e2ee-security.ts) ------------------------

  private securityUp?: Promise<TabSecurity>;

  /** The tab's safety features (started with the device: cross-signing is set up on first start). */
  private security(tab?: TabE2ee): Promise<TabSecurity> {
    this.securityUp ??= (async () => TabSecurity.start(tab ?? (await this.startE2ee()), (msg, extra) => this.log('warn', msg, extra)))().catch(
      (err: unknown) => {
        this.securityUp = undefined;
        throw err;
      },
    );
    return this.securityUp;
  }

  /** This device, its cross-signing and the key backup, for the profile's Encryption section. */
  async encryptionStatus(): Promise<EncryptionStatus> {
    return (await this.security()).status();
  }

  /** Makes a key backup and returns its recovery key — the only time it is shown. */
  async setUpRecovery(): Promise<{ recoveryKey: string; version: string }> {
    return (await this.security()).setUpRecovery();
  }

  /** Restores room keys from the key backup with a recovery key; waiting messages then decrypt. */
  async restoreFromRecoveryKey(recoveryKey: string): Promise<RestoreResult> {
    return (await this.security()).restore(recoveryKey);
  }

  /** A person's devices (or one's own) and whether this device verified them. */
  async encryptionTrust(userId: string): Promise<PersonTrust> {
    return (await this.security()).trust(userId);
  }

  /** Starts emoji verification with a person (their `deviceId`, or their newest device) or one's own other devices; the flow's ID. */
  async verify(userId: string, deviceId?: string): Promise<string> {
    return (await this.security()).verify(userId, deviceId);
  }

  async verifications(): Promise<VerificationView[]> {
    return (await this.security()).verifications.list();
  }

  /** Answers a verification: accept a request, confirm the emoji match, or cancel (they do not). */
  async verificationAction(flowId: string, action: 'accept' | 'confirm' | 'cancel'): Promise<void> {
    const v = (await this.security()).verifications;
    if (action === 'accept') await v.accept(flowId);
    else if (action === 'confirm') await v.confirm(flowId);
    else await v.cancel(flowId);
  }

  /** Calls back with every flow whenever one changes (on the page, pass a Comlink.proxy()'d callback). */
  async watchVerifications(callback: (flows: VerificationView[]) => void): Promise<void> {
    const v = (await this.security()).verifications;
    const tell = () => {
      try {
        void Promise.resolve(callback(v.list())).catch(() => off());
      } catch {
        off(); // the page went away
      }
    };
    const off = v.onChange(tell);
    // A request may have come in before the page started watching.
    tell();
  }

  /** What the app's client asks of the device: cleartext once decrypted, encryption for encrypted rooms. */
  private clientCrypto(): ClientCrypto {
    return {
      cleartext: (eventId) => this.e2eeUp?.cleartext(eventId),
      encrypt: async (room, type, content) => {
        const tab = await this.startE2ee().catch((err: unknown) => {
          throw new Error(`this room is encrypted and this tab's encryption could not start: ${String(err)}`);
        });
        return tab.encrypt(room, type, content);
      },
    };
  }

  /** The tab's encryption device ID (once started). */
  async encryptionDevice(): Promise<{ deviceId: string; ed25519: string; curve25519: string }> {
    const tab = await this.startE2ee();
    return { deviceId: tab.deviceId, ...tab.device.identityKeys() };
  }

  /** Holds (true) or releases incoming to-device messages, room keys among them: a device slow to sync (tests, demos). */
  async holdEncryptionKeys(hold: boolean): Promise<void> {
    (await this.startE2ee()).device.holdSync(hold);
  }

  /** Encrypts a file for an encrypted room and stores the ciphertext: the `file` object for the message. */
  async uploadEncryptedMedia(bytes: Uint8Array): Promise<EncryptedFileInfo & { url: string }> {
    const tab = await this.startE2ee();
    const { ciphertext, file } = tab.encryptAttachment(bytes);
    const url = await this.c().uploadMedia(this.me(), ciphertext, 'application/octet-stream');
    return { ...file, url };
  }

  /** Downloads an encrypted attachment and decrypts it (its hash is checked first). */
  async downloadEncryptedMedia(file: EncryptedFileInfo & { url: string }, mimetype?: string): Promise<Blob> {
    const tab = await this.startE2ee();
    const media = await this.c().downloadMedia(file.url);
    const clear = tab.decryptAttachment(media.bytes, file);
    return new Blob([clear as Uint8Array<ArrayBuffer>], { type: mimetype ?? 'application/octet-stream' });
  }

  /** Switches the latency marks of this worker on or off (src/server/latency-trace.ts; the benchmark's breakdown). */
  setLatencyTracing(on: boolean): void {
    setLatencyTracing(on);
  }

  /** The latency marks recorded since the last call. */
  takeLatencyTrace(): TraceMark[] {
    return takeLatencyTrace();
  }

  /** Live updates; on the page, pass a Comlink.proxy()'d callback. */
  subscribe(callback: (u: Update) => void): void {
    this.requireHs().subscribe((u) => {
      try {
        if (u.kind === 'event') traceMark(u.eventId, 'worker-update');
        callback(u.kind === 'placed' ? this.withTimeline(u) : u);
      } catch {
        // the page went away; nothing to do
      }
    });
  }

  /**
   * The room whose timeline the page shows (null: none) and how many items: its 'placed' updates
   * carry that timeline from then on (`withTimeline`).
   */
  watchTimeline(roomId: string | null, limit: number): void {
    this.watched = roomId === null ? undefined : { roomId, limit };
  }

  /** A 'placed' update of the watched room, with its timeline read now (not for encrypted rooms: those read once decrypted). */
  private withTimeline(u: Extract<Update, { kind: 'placed' }>): Update {
    const w = this.watched;
    const room = w?.roomId === u.roomId ? this.hs?.rooms.get(u.roomId) : undefined;
    if (!w || !room || isEncryptedRoom(room)) return u;
    try {
      return { ...u, timeline: this.readTimeline(u.roomId, w.limit) };
    } catch {
      return u; // the page asks, as without a watch
    }
  }

  private readTimeline(roomId: string, limit: number): TimelineRead {
    return { ...this.c().timeline(this.me(), roomId, { limit }), limit, version: ++this.timelineVersion };
  }

  /** The person's rooms, without those they left or were removed from and then forgot. */
  async rooms() {
    const me = this.me();
    const all = await this.c().rooms(me);
    if (!all.some((r) => r.membership === 'leave' || r.membership === 'ban')) return all;
    const api = await this.api();
    return all.filter((r) => r.membership === 'join' || r.membership === 'invite' || r.membership === 'knock' || api.getData(me, 'forgotten', r.roomId) === undefined);
  }
  /**
   * Forgets a room this person is no longer in (as the Client-Server API's /forget): once no one
   * here needs the room, its stored events are deleted; what that freed, or undefined if kept.
   */
  async forget(roomId: string): Promise<PurgeResult | undefined> {
    return forgetRoom(await this.api(), this.me(), roomId);
  }
  /** Rooms this person left (or was removed from) and has not forgotten, with about how much each stores: what forgetting could free. */
  async leftRooms(): Promise<{ roomId: string; name: string; events: number; bytes: number }[]> {
    const hs = this.requireHs();
    return (await this.rooms())
      .filter((r) => r.membership === 'leave' || r.membership === 'ban')
      .flatMap((r) => {
        const room = hs.rooms.get(r.roomId);
        return room ? [{ roomId: r.roomId, name: r.name, events: room.events.size, bytes: roomStoredBytes(room) }] : [];
      });
  }
  async timeline(roomId: string, limit?: number) {
    // An encrypted room reads once its events are decrypted (those whose key is missing read as waiting).
    const room = this.requireHs().rooms.get(roomId);
    if (room && isEncryptedRoom(room)) {
      const tab = await this.startE2ee().catch(() => undefined);
      await tab?.decryptEvents(roomId);
    }
    return this.readTimeline(roomId, limit ?? 200);
  }
  members(roomId: string) {
    return this.c().members(roomId);
  }
  state(roomId: string) {
    return this.c().state(roomId);
  }
  /** New direct chats and private rooms are end-to-end encrypted unless `encrypted: false`; public rooms are not. */
  createRoom(opts: CreateRoomOptions) {
    const isPublic = opts.preset === 'public_chat' || opts.joinRule === 'public';
    return this.c().createRoom(this.me(), { ...opts, encrypted: opts.encrypted ?? !isPublic });
  }
  invite(roomId: string, userId: string) {
    return this.c().invite(this.me(), roomId, userId);
  }
  /** Upgrades a room to `newVersion` (HomeserverClient.upgradeRoom): the replacement room and who was invited to it. */
  upgradeRoom(roomId: string, newVersion: string) {
    return this.c().upgradeRoom(this.me(), roomId, newVersion);
  }
  async join(roomId: string, via?: string[]) {
    const me = this.me();
    await this.c().join(me, roomId, via);
    // Joining again un-forgets the room (as the Client-Server API's join does).
    const api = this.clientApi && (await this.clientApi);
    if (api?.getData(me, 'forgotten', roomId) !== undefined) await api?.putData([], [{ user_id: me, kind: 'forgotten', key: roomId }]);
  }
  knock(roomId: string, via?: string[], reason?: string) {
    return this.c().knock(this.me(), roomId, via, reason);
  }
  leave(roomId: string, reason?: string) {
    return this.c().leave(this.me(), roomId, reason);
  }
  kick(roomId: string, userId: string, reason?: string) {
    return this.c().kick(this.me(), roomId, userId, reason);
  }
  ban(roomId: string, userId: string, reason?: string) {
    return this.c().ban(this.me(), roomId, userId, reason);
  }
  unban(roomId: string, userId: string) {
    return this.c().unban(this.me(), roomId, userId);
  }
  setState(roomId: string, type: string, stateKey: string, content: JsonObject) {
    return this.c().setState(this.me(), roomId, type, stateKey, content);
  }
  /** `echo`: the app's local ID for the message it shows as sending (see HomeserverClient's unstoredEchoes). */
  async sendMessage(roomId: string, body: string, opts?: { replyTo?: string; threadRoot?: string; html?: string; mentions?: string[]; echo?: string }) {
    const at = latencyTracing() ? traceNow() : 0;
    const eventId = await this.c().sendMessage(this.me(), roomId, body, opts);
    if (at) traceMark(eventId, 'worker-call', at);
    return eventId;
  }
  edit(roomId: string, eventId: string, body: string, html?: string) {
    return this.c().edit(this.me(), roomId, eventId, body, html !== undefined ? { html } : {});
  }
  react(roomId: string, eventId: string, key: string) {
    return this.c().react(this.me(), roomId, eventId, key);
  }
  /** Takes back our reaction `key` to `eventId` (redacts our reaction events with that key). */
  unreact(roomId: string, eventId: string, key: string) {
    return this.c().unreact(this.me(), roomId, eventId, key);
  }
  redact(roomId: string, eventId: string, reason?: string) {
    return this.c().redact(this.me(), roomId, eventId, reason);
  }
  setTyping(roomId: string, typing: boolean) {
    return this.c().setTyping(this.me(), roomId, typing);
  }
  sendReceipt(roomId: string, eventId: string) {
    return this.c().sendReceipt(this.me(), roomId, eventId);
  }
  setPresence(presence: 'online' | 'offline' | 'unavailable') {
    return this.c().setPresence(this.me(), presence);
  }
  typing(roomId: string) {
    return this.c().typing(roomId);
  }
  receipts(roomId: string) {
    return this.c().receipts(roomId);
  }
  presence(userId: string) {
    return this.c().presence(userId);
  }
  dag(roomId: string) {
    return this.c().dag(roomId);
  }
  event(roomId: string, eventId: string) {
    return this.c().event(roomId, eventId);
  }
  publicRooms() {
    return this.c().publicRooms();
  }
  network() {
    return this.c().network();
  }
  /** Stores a blob (an image to send) on this homeserver; returns its mxc:// URI. */
  uploadMedia(bytes: Uint8Array, contentType: string) {
    return this.c().uploadMedia(this.me(), bytes, contentType);
  }
  /** A blob by mxc:// URI, from this homeserver or any peer that has it. */
  downloadMedia(uri: string) {
    return this.c().downloadMedia(uri);
  }
  /** `file`: an encrypted image's EncryptedFile (uploadEncryptedMedia), sent in place of `url`. */
  sendImage(roomId: string, image: { url: string; mimetype: string; size: number; width?: number; height?: number; alt: string; name?: string; file?: JsonObject }) {
    return this.c().sendImage(this.me(), roomId, image);
  }
  /** Per event ID, how many servers have yet to receive it (delivered events are left out). */
  undelivered(eventIds: string[]) {
    return this.c().undelivered(eventIds);
  }
  /** Retries delivery of everything queued, now. */
  retryDelivery() {
    this.c().retryDelivery();
  }
  /** Writes what a failed write held (a message sent while storage was full); rejects while the store still refuses. */
  flushWrites(): Promise<void> {
    return this.requireHs().flushWrites();
  }
  sendFile(roomId: string, file: { url: string; mimetype: string; size: number; name: string; file?: JsonObject }) {
    return this.c().sendFile(this.me(), roomId, file);
  }
  /** The network panel's view: relay link, peers with link kind and round-trip time, outbox sizes. */
  networkStatus(): NetworkStatus {
    const n = this.c().network();
    const t = this.libp2p();
    if (!t) {
      return {
        serverName: n.serverName,
        relay: { state: 'none' },
        peers: n.peers.map((peer) => ({ peer, names: [], blocked: false })),
        outbox: n.outbox,
        outboxByRoom: n.outboxByRoom,
        offline: false,
        available: false,
        verifier: this.requireHs().identity.verifier.name,
      };
    }
    const conns = t.node.getConnections();
    const known = new Set([...n.peers, ...this.blocked]);
    const relay: RelayStatus = this.relayLink?.status() ?? { state: 'none' };
    const names = this.namesByServer();
    return {
      serverName: n.serverName,
      relay: t.offline ? { state: 'failed', ...(relay.addr ? { addr: relay.addr } : {}) } : relay,
      peers: [...known].sort().map((peer) => {
        const pc = conns.filter((c) => c.remotePeer.toString() === peer);
        const direct = pc.some((c) => !c.remoteAddr.toString().includes('/p2p-circuit'));
        const rtt = this.rtts.get(peer);
        return {
          peer,
          names: names.get(peer) ?? [],
          blocked: t.isBlocked(peer),
          link: pc.length === 0 ? 'none' : direct ? 'direct' : 'relayed',
          ...(rtt !== undefined ? { rttMs: rtt } : {}),
        };
      }),
      outbox: n.outbox,
      outboxByRoom: n.outboxByRoom,
      offline: t.offline,
      available: true,
      verifier: this.requireHs().identity.verifier.name,
    };
  }
  /** Partition control, enforced in the transport: no connection, stream or gossip with `peer`. */
  block(peer: string): void {
    this.requireLibp2p().block(peer);
    this.blocked.add(peer);
  }
  unblock(peer: string): void {
    this.requireLibp2p().unblock(peer);
    this.blocked.delete(peer);
  }
  /** Partition control: cut this homeserver off from every peer (true) or reconnect (false). */
  setOffline(offline: boolean): void {
    this.requireLibp2p().setOffline(offline);
  }

  /** Display names (else user IDs) of the users of each server, from the joined members of our rooms. */
  private namesByServer(): Map<string, string[]> {
    const out = new Map<string, Set<string>>();
    for (const roomId of this.requireHs().rooms.keys()) {
      let members: ReturnType<HomeserverClient['members']>;
      try {
        members = this.c().members(roomId);
      } catch {
        continue; // a room without state yet (a join in progress)
      }
      for (const m of members) {
        if (m.membership !== 'join') continue;
        const server = m.userId.slice(m.userId.indexOf(':') + 1);
        const set = out.get(server) ?? new Set<string>();
        set.add(m.displayName || m.userId);
        out.set(server, set);
      }
    }
    return new Map([...out].map(([server, set]) => [server, [...set].sort()]));
  }

  /**
   * Follows the relay link (relay-link.ts): its state for the panel, the
   * page told when it changes, and the configuration read again while the
   * relay is down — a relay back with a new identity is then dialled.
   */
  private watchRelay(relays: string[]): void {
    const t = this.libp2p();
    if (!t) return;
    const hs = this.requireHs();
    this.relayLink = new RelayLink(relays, {
      connected: (peers) => t.node.getConnections().some((c) => peers.includes(c.remotePeer.toString())),
      setRelays: (next) => {
        this.log('info', 'the relay configuration changed; dialling the new relay', { relays: next.join(' ') });
        t.setBootstrap(next);
      },
      ...(this.readRelayConfig ? { readConfig: this.readRelayConfig } : {}),
      // The page reloads its network view on a 'network' update; the relay is not a homeserver peer, so no peer is named.
      onChange: (s) => hs.emit({ kind: 'network', peer: '', up: s.state === 'connected' }),
    });
    const link = this.relayLink;
    // Connection events tell at once (the page waits for "relay connected"); the timer catches the rest and paces the re-reads.
    t.node.addEventListener('connection:open', () => link.tick());
    t.node.addEventListener('connection:close', () => link.tick());
    const timer = setInterval(() => link.tick(), 1000);
    (timer as { unref?: () => void }).unref?.();
  }

  private libp2p(): Libp2pTransport | undefined {
    const t = this.hs?.transport as Partial<Libp2pTransport> | undefined;
    return t && typeof t.block === 'function' && t.node ? (t as Libp2pTransport) : undefined;
  }

  private requireLibp2p(): Libp2pTransport {
    const t = this.libp2p();
    if (!t) throw new Error('not available without a network');
    return t;
  }

  /** Measures round-trip times to connected peers in the background (the panel reads the cache). */
  private startPinging(): void {
    const tick = async () => {
      const t = this.libp2p();
      if (t && !t.offline) {
        for (const peer of t.reachablePeers()) {
          const conn = t.node.getConnections().find((c) => c.remotePeer.toString() === peer);
          if (!conn) continue;
          try {
            this.rtts.set(peer, Math.round(await t.node.services.ping.ping(conn.remotePeer, { signal: AbortSignal.timeout(5000) })));
          } catch {
            this.rtts.delete(peer);
          }
        }
      }
      setTimeout(() => void tick(), 5000);
    };
    setTimeout(() => void tick(), 1000);
  }
}
