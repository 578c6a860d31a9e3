/**
 * Server-side key backup for an E2eeDevice (spec: "Server-side key backups",
 * m.megolm_backup.v1.curve25519-aes-sha2). The Rust crypto does the
 * cryptography — it makes the backup key (BackupDecryptionKey), encrypts
 * room keys to its public half (backupRoomKeys) and decrypts them with the
 * private half (decryptV1); this module only moves what it produces:
 *
 * - createKeyBackup: a new backup version on the homeserver (its public key,
 *   signed by this device) and the recovery key — the private half as text
 *   (recovery-key.ts), returned once for the person to keep. The device keeps
 *   the key in its crypto store too, so it can read its own backup.
 * - KeyBackupUploader: uploads room keys as they arrive (the machine's
 *   KeysBackupRequests), so the backup stays current.
 * - restoreFromRecoveryKey: on a new device, checks the key matches the
 *   server's backup, downloads the encrypted room keys, decrypts and imports
 *   them; the events waiting for them can then be decrypted.
 *
 * The homeserver holds only the public key, signatures and ciphertext.
 */
import type * as Wasm from '@matrix-org/matrix-sdk-crypto-wasm';
import { canonicalJson } from '../core/canonical-json.ts';
import type { CsRequest, E2eeDevice } from './device.ts';
import { decodeRecoveryKey, encodeRecoveryKey } from './recovery-key.ts';

export interface BackupInfo {
  version: string;
  algorithm: string;
  auth_data: { public_key?: unknown; signatures?: unknown };
  count?: number;
}

interface KeyBackupSession {
  session_data?: { ephemeral?: unknown; mac?: unknown; ciphertext?: unknown };
}

/** The homeserver's current backup version, or undefined when there is none. */
export async function currentBackup(request: CsRequest): Promise<BackupInfo | undefined> {
  const res = await request('GET', '/_matrix/client/v3/room_keys/version');
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`the homeserver's key backup could not be read (${res.status})`);
  const info = res.json as Partial<BackupInfo>;
  if (typeof info.version !== 'string' || typeof info.algorithm !== 'string' || typeof info.auth_data !== 'object' || info.auth_data === null) {
    throw new Error('the homeserver answered with a malformed key backup version');
  }
  return info as BackupInfo;
}

/**
 * Makes a new key backup version on the homeserver and turns backing up on
 * for this device. Returns the recovery key: show it once — it is the only
 * way to read the backup from a device that has no other way in.
 */
export async function createKeyBackup(dev: E2eeDevice, request: CsRequest): Promise<{ version: string; recoveryKey: string }> {
  const w = dev.wasm;
  const key = w.BackupDecryptionKey.createRandomKey();
  const pub = key.megolmV1PublicKey;
  const authData: Record<string, unknown> = { public_key: pub.publicKeyBase64 };
  // Signed by this device, so its other devices (and the person's verified ones) can trust the backup.
  const sigs = await dev.machine.sign(canonicalJson(authData));
  authData.signatures = JSON.parse(sigs.asJSON()) as unknown;
  const res = await request('POST', '/_matrix/client/v3/room_keys/version', JSON.stringify({ algorithm: pub.algorithm, auth_data: authData }));
  const version = (res.json as { version?: unknown } | undefined)?.version;
  if (res.status !== 200 || typeof version !== 'string') throw new Error(`the homeserver refused the new key backup (${res.status})`);
  await dev.machine.saveBackupDecryptionKey(key, version);
  await dev.machine.enableBackupV1(pub.publicKeyBase64, version);
  return { version, recoveryKey: encodeRecoveryKey(key.toBase64()) };
}

/** The backup version this device backs up to (undefined when backing up is off). */
export async function activeBackupVersion(dev: E2eeDevice): Promise<string | undefined> {
  if (!(await dev.machine.isBackupEnabled())) return undefined;
  return (await dev.machine.getBackupKeys()).backupVersion ?? undefined;
}

/**
 * Keeps the backup current: each `kick` (a room key arrived, a message was
 * encrypted, a timer) uploads the room keys not backed up yet, in the
 * machine's batches; one run at a time, and a kick during a run runs it again.
 */
export class KeyBackupUploader {
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly unsubscribe: () => void;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly dev: E2eeDevice,
    intervalMs = 10_000,
  ) {
    this.unsubscribe = dev.onRoomKeys(() => void this.kick());
    // The device's own outbound sessions are not announced as arriving keys: a timer catches them.
    this.timer = setInterval(() => void this.kick(), intervalMs);
    // In Node the timer alone does not keep the process alive (a test or CLI that forgets to stop it).
    (this.timer as { unref?: () => void }).unref?.();
  }

  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        for (let i = 0; i < 100 && !this.stopped; i++) {
          if (!(await this.dev.machine.isBackupEnabled())) return;
          const req = await this.dev.machine.backupRoomKeys();
          if (!req) break;
          await this.dev.sendOutgoing(req);
        }
      } while (this.again && !this.stopped);
    })()
      .catch(() => undefined) // the keys stay marked not backed up; the next kick tries again
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** Stops; resolves once an upload in flight is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    clearInterval(this.timer);
    await this.running;
  }
}

export interface RestoreResult {
  version: string;
  /** Room keys in the backup. */
  total: number;
  /** Room keys imported (new to this device). */
  imported: number;
}

/**
 * Restores room keys from the homeserver's backup with a recovery key (as
 * the person typed or pasted it). Throws an Error with a message for the
 * person: a malformed key, no backup, or a key that is not this backup's.
 * Also turns backing up on for this device (to the same version).
 */
export async function restoreFromRecoveryKey(dev: E2eeDevice, request: CsRequest, recoveryKey: string): Promise<RestoreResult> {
  const w = dev.wasm;
  const key = w.BackupDecryptionKey.fromBase64(decodeRecoveryKey(recoveryKey));
  const info = await currentBackup(request);
  if (!info) throw new Error('This account has no key backup on its homeserver.');
  if (info.auth_data.public_key !== key.megolmV1PublicKey.publicKeyBase64) {
    throw new Error('That recovery key is not the key of this account’s backup (it may be an older one).');
  }
  const res = await request('GET', `/_matrix/client/v3/room_keys/keys?version=${encodeURIComponent(info.version)}`);
  if (res.status !== 200) throw new Error(`the backed-up keys could not be read (${res.status})`);
  const rooms = ((res.json as { rooms?: unknown } | undefined)?.rooms ?? {}) as Record<string, { sessions?: Record<string, KeyBackupSession> }>;
  const byRoom = new Map<Wasm.RoomId, Map<string, unknown>>();
  let total = 0;
  for (const [roomId, room] of Object.entries(rooms)) {
    const sessions = new Map<string, unknown>();
    for (const [sessionId, s] of Object.entries(room?.sessions ?? {})) {
      total++;
      const d = s?.session_data;
      if (typeof d?.ephemeral !== 'string' || typeof d.mac !== 'string' || typeof d.ciphertext !== 'string') continue;
      try {
        const clear = JSON.parse(key.decryptV1(d.ephemeral, d.mac, d.ciphertext)) as Record<string, unknown>;
        sessions.set(sessionId, { ...clear, room_id: roomId, session_id: sessionId });
      } catch {
        // A session that does not decrypt (corrupt, or another key's) is skipped; the rest still help.
      }
    }
    if (sessions.size > 0) byRoom.set(new w.RoomId(roomId), sessions);
  }
  const result = await dev.machine.importBackedUpRoomKeys(byRoom, () => undefined, info.version);
  await dev.machine.saveBackupDecryptionKey(key, info.version);
  await dev.machine.enableBackupV1(key.megolmV1PublicKey.publicKeyBase64, info.version);
  return { version: info.version, total, imported: result.importedCount };
}
