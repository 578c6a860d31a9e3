/**
 * The homeserver as the page sees it: what workers/homeserver.worker.ts
 * exposes over Comlink. It owns one homeserver — an IndexedDB database
 * guarded by a Web Lock so only one tab opens it — and acts for that
 * homeserver's one person (its first account).
 */
import type { JsonObject } from '../core/json.ts';
import { type CreateRoomOptions, HomeserverClient } from '../server/client.ts';
import { Homeserver } from '../server/homeserver.ts';
import type { ServerIdentity } from '../server/identity.ts';
import { type Logger, consoleLogger } from '../server/log.ts';
import { listIdbStores, openIdbStore } from '../server/store/idb-store.ts';
import type { Transport } from '../server/transport/types.ts';
import type { Update } from '../server/updates.ts';

export const DB_PREFIX = 'hearth-hs-';

export interface StartOptions {
  /** Reattach to this database (the tab's previous homeserver) if its lock is free. */
  dbName?: string;
  /** Relay multiaddrs to connect through. */
  relays?: string[];
}

export interface StartResult {
  dbName: string;
  serverName: string;
  userId?: string;
  displayName?: string;
}

export type TransportFactory = (identity: ServerIdentity, relays: readonly string[]) => Promise<Transport>;

/** Holds a Web Lock for the worker's lifetime, or returns false at once if another tab has it. */
async function tryLock(name: string): Promise<boolean> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) return true; // no Web Locks (Node tests): nothing to guard against
  return new Promise<boolean>((resolve) => {
    void locks.request(`hearth-db:${name}`, { ifAvailable: true }, (lock) => {
      if (!lock) {
        resolve(false);
        return undefined;
      }
      resolve(true);
      return new Promise<void>(() => {}); // held until the worker (tab) goes away
    });
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
  private readonly log: Logger = consoleLogger('hearth');

  constructor(private readonly makeTransport: TransportFactory) {}

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

  async start(opts: StartOptions = {}): Promise<StartResult> {
    if (this.hs) return this.whoami();
    let dbName: string | undefined;
    if (opts.dbName && (await tryLock(opts.dbName))) dbName = opts.dbName;
    if (!dbName) {
      dbName = randomName();
      if (!(await tryLock(dbName))) throw new Error('could not lock a fresh homeserver database');
    }
    const store = await openIdbStore(dbName);
    this.hs = await Homeserver.open({
      store,
      transport: (_name, identity) => this.makeTransport(identity, opts.relays ?? []),
      log: this.log,
    });
    this.client = new HomeserverClient(this.hs);
    this.dbName = dbName;
    return this.whoami();
  }

  whoami(): StartResult {
    const hs = this.requireHs();
    const me = [...hs.accounts.values()][0];
    return {
      dbName: this.dbName!,
      serverName: hs.serverName,
      ...(me ? { userId: me.user_id, displayName: me.display_name } : {}),
    };
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
    return hs.register(username, displayName);
  }

  /** Live updates; on the page, pass a Comlink.proxy()'d callback. */
  subscribe(callback: (u: Update) => void): void {
    this.requireHs().subscribe((u) => {
      try {
        callback(u);
      } catch {
        // the page went away; nothing to do
      }
    });
  }

  rooms() {
    return this.c().rooms(this.me());
  }
  timeline(roomId: string, limit?: number) {
    return this.c().timeline(this.me(), roomId, { limit: limit ?? 200 });
  }
  members(roomId: string) {
    return this.c().members(roomId);
  }
  state(roomId: string) {
    return this.c().state(roomId);
  }
  createRoom(opts: CreateRoomOptions) {
    return this.c().createRoom(this.me(), opts);
  }
  invite(roomId: string, userId: string) {
    return this.c().invite(this.me(), roomId, userId);
  }
  join(roomId: string, via?: string[]) {
    return this.c().join(this.me(), roomId, via);
  }
  knock(roomId: string, via?: string[], reason?: string) {
    return this.c().knock(this.me(), roomId, via, reason);
  }
  leave(roomId: string) {
    return this.c().leave(this.me(), roomId);
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
  sendMessage(roomId: string, body: string, opts?: { replyTo?: string; threadRoot?: string }) {
    return this.c().sendMessage(this.me(), roomId, body, opts);
  }
  edit(roomId: string, eventId: string, body: string) {
    return this.c().edit(this.me(), roomId, eventId, body);
  }
  react(roomId: string, eventId: string, key: string) {
    return this.c().react(this.me(), roomId, eventId, key);
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
}
