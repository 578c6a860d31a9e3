/**
 * The tab's encryption safety features on top of its device (e2ee-tab.ts):
 * cross-signing set up when the device first starts, key backup with a
 * recovery key, and emoji verification of other people and of one's own
 * other devices. The protocol work is in src/e2ee-device/ (verification.ts,
 * cross-signing.ts, backup.ts); this is what the page calls, through the
 * worker's HomeserverService (Comlink), in plain data.
 *
 * - Cross-signing: a new account's first device makes the identity (the
 *   first upload needs no password). A device that finds an identity it has
 *   no keys for (a restored homeserver: a new device of the same person)
 *   leaves it alone — it becomes trusted by verifying it from another device.
 * - Key backup: off until the person asks for a recovery key; the key is
 *   returned once and never kept in the page. Room keys are backed up as they
 *   arrive. On a new device, the recovery key restores them and the messages
 *   waiting for those keys are decrypted.
 * - Verification: a flow we start moves to emoji as soon as the other side
 *   accepts; the person compares and confirms (or says they differ).
 */
import { activeBackupVersion, createKeyBackup, currentBackup, KeyBackupUploader, restoreFromRecoveryKey, type RestoreResult } from '../e2ee-device/backup.ts';
import { bootstrapCrossSigning, type CrossSigningState, crossSigningState } from '../e2ee-device/cross-signing.ts';
import type { E2eeDevice, ToDeviceEvent } from '../e2ee-device/device.ts';
import { type VerificationView, Verifications } from '../e2ee-device/verification.ts';
import type { TabE2ee } from './e2ee-tab.ts';

export type { VerificationView };

export interface EncryptionStatus {
  deviceId: string;
  /** This device's Ed25519 key, as other clients show it ("session key"). */
  fingerprint: string;
  crossSigning: CrossSigningState;
  /** Whether this device is signed by its person's identity (verified). */
  deviceVerified: boolean;
  /** The homeserver's key backup version, and whether this device backs up to it (holds its key). */
  backup?: { version: string; keys: number; thisDevice: boolean };
}

export interface DeviceTrust {
  deviceId: string;
  displayName?: string;
  verified: boolean;
  /** This tab's own device. */
  thisDevice: boolean;
}

export interface PersonTrust {
  userId: string;
  /** Their identity is verified by us (or, for oneself, this device trusts it). */
  verified: boolean;
  devices: DeviceTrust[];
}

export class TabSecurity {
  readonly verifications: Verifications;
  private readonly uploader: KeyBackupUploader;
  private readonly unsubscribe: () => void;

  private constructor(readonly tab: TabE2ee) {
    const dev = tab.device;
    this.verifications = new Verifications(dev);
    this.unsubscribe = dev.onToDevice((events) => {
      const missed = this.verifications.noticeToDevice(events);
      if (missed.length > 0) void this.retryRequests(missed);
    });
    this.uploader = new KeyBackupUploader(dev);
    // A flow we started goes on to the emoji as soon as the other side is ready.
    this.verifications.onChange(() => {
      for (const v of this.verifications.list()) {
        if (v.weStarted && v.phase === 'ready' && !this.starting.has(v.flowId)) {
          this.starting.add(v.flowId);
          void this.verifications.startSas(v.flowId).catch(() => this.starting.delete(v.flowId));
        }
      }
    });
  }

  private readonly starting = new Set<string>();
  private unsubscribeRooms?: () => void;
  /** Users whose devices this device follows already (a query once, then device_lists.changed). */
  private readonly tracked = new Set<string>();

  /**
   * Follows the devices of everyone this person shares a room with — as
   * clients do for encrypted rooms; here for every room, since a person can
   * be verified from any room's member list. The Rust crypto ignores a
   * verification request from a device it has never heard of, so the person
   * asked must already know the asker's devices.
   */
  private trackRoomMembers(): void {
    const hs = this.tab.hs;
    const me = this.dev.userId;
    const follow = (userIds: Iterable<string>) => {
      const fresh = [...userIds].filter((u) => u !== me && !this.tracked.has(u));
      if (fresh.length === 0) return;
      for (const u of fresh) this.tracked.add(u);
      const w = this.dev.wasm;
      void this.dev.machine
        .updateTrackedUsers(fresh.map((u) => new w.UserId(u)))
        .then(() => this.dev.processOutgoingRequests())
        .catch(() => {
          for (const u of fresh) this.tracked.delete(u);
        });
    };
    const roomMembers = (roomId: string) => {
      const room = hs.rooms.get(roomId);
      if (!room || room.currentGroup < 0 || room.membership(me) !== 'join') return [];
      return room
        .members()
        .filter((m) => m.membership === 'join' || m.membership === 'invite')
        .map((m) => m.userId);
    };
    follow([...hs.rooms.keys()].flatMap(roomMembers));
    this.unsubscribeRooms = hs.subscribe((u) => {
      if (u.kind !== 'event' || u.status !== 'accepted') return;
      if (hs.rooms.get(u.roomId)?.get(u.eventId)?.type === 'm.room.member') follow(roomMembers(u.roomId));
    });
  }

  private get dev(): E2eeDevice {
    return this.tab.device;
  }

  /** Starts the safety features for a running device; sets up cross-signing if the person has none yet. */
  static async start(tab: TabE2ee, log: (msg: string, extra?: Record<string, unknown>) => void = () => {}): Promise<TabSecurity> {
    const sec = new TabSecurity(tab);
    sec.trackRoomMembers();
    try {
      // The device's own keys must be on the server before its identity signs them.
      await tab.device.processOutgoingRequests();
      await sec.refreshOwnIdentity();
      if ((await crossSigningState(tab.device)) === 'missing') await bootstrapCrossSigning(tab.device, tab.device.request);
    } catch (err) {
      log('cross-signing could not be set up yet', { error: String(err) });
    }
    return sec;
  }

  /**
   * A verification request from a device this one had not fetched the keys
   * of (a person it just met): fetch them, then hand the request to the
   * machine again (as matrix-js-sdk does with to-device events: no key counts).
   */
  private async retryRequests(events: ToDeviceEvent[]): Promise<void> {
    const w = this.dev.wasm;
    try {
      const senders = [...new Set(events.map((e) => e.sender).filter((s): s is string => typeof s === 'string'))];
      for (const u of senders) this.tracked.add(u);
      await this.dev.machine.updateTrackedUsers(senders.map((u) => new w.UserId(u)));
      await this.dev.machine.markAllTrackedUsersAsDirty();
      await this.dev.processOutgoingRequests();
      await this.dev.machine.receiveSyncChanges(JSON.stringify(events), new w.DeviceLists(), new Map(), undefined);
      this.verifications.noticeToDevice(events);
    } catch {
      // the request stays unanswered; the asker can try again
    }
  }

  /** Asks the homeserver for one's own keys (is there an identity already?). */
  private async refreshOwnIdentity(): Promise<void> {
    const w = this.dev.wasm;
    await this.dev.machine.updateTrackedUsers([new w.UserId(this.dev.userId)]);
    await this.dev.processOutgoingRequests();
  }

  async status(): Promise<EncryptionStatus> {
    const w = this.dev.wasm;
    const server = await currentBackup(this.dev.request).catch(() => undefined);
    const active = await activeBackupVersion(this.dev);
    const own = await this.dev.machine.getDevice(new w.UserId(this.dev.userId), new w.DeviceId(this.dev.deviceId));
    return {
      deviceId: this.dev.deviceId,
      fingerprint: this.dev.identityKeys().ed25519,
      crossSigning: await crossSigningState(this.dev),
      deviceVerified: own?.isCrossSignedByOwner() ?? false,
      ...(server ? { backup: { version: server.version, keys: server.count ?? 0, thisDevice: active === server.version } } : {}),
    };
  }

  /**
   * Makes a new key backup (replacing any older one) and returns its
   * recovery key — once: it is not stored anywhere the page can read again.
   * Room keys this device holds are uploaded right after.
   */
  async setUpRecovery(): Promise<{ recoveryKey: string; version: string }> {
    const made = await createKeyBackup(this.dev, this.dev.request);
    void this.uploader.kick();
    return made;
  }

  /** Restores room keys from the backup with a recovery key; the messages waiting for them are decrypted. */
  async restore(recoveryKey: string): Promise<RestoreResult> {
    // The imported keys are announced like arriving ones: TabE2ee decrypts the events waiting for them.
    return restoreFromRecoveryKey(this.dev, this.dev.request, recoveryKey);
  }

  /** Uploads room keys not backed up yet (after sending in an encrypted room, say). */
  backUpNow(): Promise<void> {
    return this.uploader.kick();
  }

  /** The person's devices and whether we trust them (asks their server when not known yet). */
  async trust(userId: string): Promise<PersonTrust> {
    const w = this.dev.wasm;
    // A fresh UserId for each call: the crypto takes ownership of the ones passed in a list.
    await this.dev.machine.updateTrackedUsers([new w.UserId(userId)]);
    await this.dev.processOutgoingRequests();
    const identity = await this.dev.machine.getIdentity(new w.UserId(userId));
    const devices = await this.dev.machine.getUserDevices(new w.UserId(userId), 5);
    const list: DeviceTrust[] = devices.devices().map((d) => {
      const id = d.deviceId.toString();
      return {
        deviceId: id,
        ...(d.displayName ? { displayName: d.displayName } : {}),
        verified: d.isCrossSignedByOwner() && (userId === this.dev.userId || d.isVerified()),
        thisDevice: userId === this.dev.userId && id === this.dev.deviceId,
      };
    });
    return { userId, verified: identity?.isVerified() ?? false, devices: list };
  }

  /**
   * Starts emoji verification: of another person (with `deviceId`, or their
   * only device), or of one's own other device (`userId` is oneself:
   * `deviceId`, or all of them at once). Returns the flow's ID.
   */
  async verify(userId: string, deviceId?: string): Promise<string> {
    if (userId === this.dev.userId && !deviceId) return this.verifications.requestOwnDevices();
    let target = deviceId;
    if (!target) {
      const others = (await this.trust(userId)).devices.filter((d) => !d.thisDevice);
      if (others.length === 0) throw new Error(`${userId} has no device with encryption keys yet.`);
      // Several devices: the most recently added is the likeliest to be in the person's hands.
      target = others[others.length - 1]!.deviceId;
    }
    return this.verifications.requestWithDevice(userId, target);
  }

  /** Stops backing up; resolves once an upload in flight is over (the device can then be stopped). */
  stop(): Promise<void> {
    this.unsubscribe();
    this.unsubscribeRooms?.();
    return this.uploader.stop();
  }
}
