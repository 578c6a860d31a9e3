/**
 * Interactive verification by emoji (spec: "Short Authentication String
 * (SAS) verification", to-device flow) for an E2eeDevice. The Rust crypto
 * runs the protocol — the key agreement, the seven emoji, the MACs, and the
 * signatures that mark the other device (and, with cross-signing, the other
 * person or one's own new device) verified; this module sends what it asks
 * to send and keeps a plain view of each flow for the page:
 *
 *   requested (they asked; accept or cancel) → waiting (we asked) → ready →
 *   started → emoji (compare, then confirm or cancel) → confirmed (waiting
 *   for the other side) → done | cancelled.
 *
 * Another person is verified through one of their devices (a to-device
 * request: Hearth's tab is one device per person), one's own other device
 * through a request to all of one's devices. When a flow ends done, the
 * machine uploads the signatures it made (/keys/signatures/upload).
 */
import type * as Wasm from '@matrix-org/matrix-sdk-crypto-wasm';
import type { E2eeDevice, ToDeviceEvent } from './device.ts';

export type VerificationPhase = 'requested' | 'waiting' | 'ready' | 'started' | 'emoji' | 'confirmed' | 'done' | 'cancelled';

export interface VerificationView {
  flowId: string;
  otherUserId: string;
  otherDeviceId?: string;
  /** True when this device sent the request. */
  weStarted: boolean;
  /** Verifying one of one's own devices. */
  self: boolean;
  phase: VerificationPhase;
  /** The seven emoji to compare, once both sides have them. */
  emoji?: { symbol: string; name: string }[];
  /** Why it was cancelled, in the protocol's words (e.g. "The user cancelled the verification."). */
  cancelReason?: string;
}

interface Flow {
  request: Wasm.VerificationRequest;
  sas?: Wasm.Sas;
}

const REQUEST_TYPE = 'm.key.verification.request';

export class Verifications {
  private readonly flows = new Map<string, Flow>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly dev: E2eeDevice) {}

  /** Called when anything in any flow changes (the page re-reads `list`). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Looks through to-device events the machine has just processed (as
   * `{type, sender, content}`) for verification requests sent to this device.
   * Returns the requests the machine did not take up (it ignores a request
   * from a device whose keys it has not fetched yet).
   */
  noticeToDevice(events: readonly ToDeviceEvent[]): ToDeviceEvent[] {
    const missed: ToDeviceEvent[] = [];
    for (const e of events) {
      if (e.type !== REQUEST_TYPE || typeof e.sender !== 'string') continue;
      const txn = (e.content as { transaction_id?: unknown } | undefined)?.transaction_id;
      if (typeof txn !== 'string' || this.flows.has(txn)) continue;
      const request = this.dev.machine.getVerificationRequest(new this.dev.wasm.UserId(e.sender), txn);
      if (request) this.track(request);
      else missed.push(e);
    }
    return missed;
  }

  /** Asks one device of another person (or of oneself) to verify; resolves with the flow's ID. */
  async requestWithDevice(userId: string, deviceId: string): Promise<string> {
    const w = this.dev.wasm;
    const device = await this.dev.machine.getDevice(new w.UserId(userId), new w.DeviceId(deviceId));
    if (!device) throw new Error(`${userId} has no device ${deviceId} (or its keys are not known yet)`);
    const [request, outgoing] = device.requestVerification([w.VerificationMethod.SasV1]);
    this.track(request);
    await this.dev.sendOutgoing(outgoing);
    return request.flowId;
  }

  /** Asks all of one's own other devices to verify this one; resolves with the flow's ID. */
  async requestOwnDevices(): Promise<string> {
    const w = this.dev.wasm;
    const own = await this.dev.machine.getIdentity(new w.UserId(this.dev.userId));
    if (!own || !('trustsOurOwnDevice' in own)) throw new Error('Set up cross-signing first: there is no identity to verify against.');
    const [request, outgoing] = await (own as Wasm.OwnUserIdentity).requestVerification([w.VerificationMethod.SasV1]);
    this.track(request);
    await this.dev.sendOutgoing(outgoing);
    return request.flowId;
  }

  /** Accepts a request another device sent (advertising emoji verification). */
  async accept(flowId: string): Promise<void> {
    const f = this.flow(flowId);
    const out = f.request.acceptWithMethods([this.dev.wasm.VerificationMethod.SasV1]);
    if (out) await this.dev.sendOutgoing(out);
    this.changed();
  }

  /** Starts emoji verification on a ready request. */
  async startSas(flowId: string): Promise<void> {
    const f = this.flow(flowId);
    const started = await f.request.startSas();
    if (!started) throw new Error('This verification is not ready to start.');
    const [sas, out] = started;
    this.trackSas(f, sas);
    await this.dev.sendOutgoing(out);
    this.changed();
  }

  /** The person says the emoji match: the machine sends its MAC (and, when done, its signatures). */
  async confirm(flowId: string): Promise<void> {
    const f = this.flow(flowId);
    if (!f.sas) throw new Error('There are no emoji to confirm yet.');
    for (const out of await f.sas.confirm()) await this.dev.sendOutgoing(out);
    // The machine may have queued signature uploads: send them now rather than at the next sync.
    await this.dev.processOutgoingRequests();
    this.changed();
  }

  /** Cancels the flow (the emoji did not match, or the person changed their mind). */
  async cancel(flowId: string): Promise<void> {
    const f = this.flow(flowId);
    const out = f.sas ? (f.sas.cancelWithCode(f.sas.canBePresented() ? 'm.mismatched_sas' : 'm.user') ?? f.request.cancel()) : f.request.cancel();
    if (out) await this.dev.sendOutgoing(out);
    this.changed();
  }

  get(flowId: string): VerificationView | undefined {
    const f = this.flows.get(flowId);
    return f ? this.view(flowId, f) : undefined;
  }

  /** Every flow this device has seen since it started, oldest first. */
  list(): VerificationView[] {
    return [...this.flows].map(([id, f]) => this.view(id, f));
  }

  private flow(flowId: string): Flow {
    const f = this.flows.get(flowId);
    if (!f) throw new Error('There is no such verification (it may have timed out).');
    return f;
  }

  private track(request: Wasm.VerificationRequest): void {
    const f: Flow = { request };
    this.flows.set(request.flowId, f);
    request.registerChangesCallback(async () => {
      // The other side started SAS on a request we accepted: take it up (accepting the start is
      // part of the protocol; the person's real decision is comparing the emoji).
      const v = request.getVerification();
      if (v && !f.sas && v instanceof this.dev.wasm.Sas) {
        const sas = v;
        this.trackSas(f, sas);
        if (!sas.weStarted() && !sas.hasBeenAccepted()) {
          const out = sas.accept();
          if (out) await this.dev.sendOutgoing(out).catch(() => undefined);
        }
      }
      if (request.isDone()) await this.dev.processOutgoingRequests();
      this.changed();
    });
    this.changed();
  }

  private trackSas(f: Flow, sas: Wasm.Sas): void {
    if (f.sas) return;
    f.sas = sas;
    sas.registerChangesCallback(async () => {
      if (sas.isDone()) await this.dev.processOutgoingRequests();
      this.changed();
    });
  }

  private view(flowId: string, f: Flow): VerificationView {
    const w = this.dev.wasm;
    const r = f.request;
    const base = {
      flowId,
      otherUserId: r.otherUserId.toString(),
      ...(r.otherDeviceId ? { otherDeviceId: r.otherDeviceId.toString() } : f.sas ? { otherDeviceId: f.sas.otherDeviceId.toString() } : {}),
      weStarted: r.weStarted(),
      self: r.isSelfVerification(),
    };
    const cancelled = f.sas?.cancelInfo() ?? r.cancelInfo;
    if (r.isCancelled() || f.sas?.isCancelled()) return { ...base, phase: 'cancelled', ...(cancelled ? { cancelReason: cancelled.reason() } : {}) };
    if (r.isDone() || f.sas?.isDone()) return { ...base, phase: 'done' };
    if (f.sas) {
      if (f.sas.haveWeConfirmed()) return { ...base, phase: 'confirmed' };
      if (f.sas.canBePresented()) {
        const emoji = (f.sas.emoji() ?? []).map((e) => ({ symbol: e.symbol, name: e.description }));
        return { ...base, phase: 'emoji', emoji };
      }
      return { ...base, phase: 'started' };
    }
    switch (r.phase()) {
      case w.VerificationRequestPhase.Created:
        return { ...base, phase: 'waiting' };
      case w.VerificationRequestPhase.Requested:
        return { ...base, phase: r.weStarted() ? 'waiting' : 'requested' };
      case w.VerificationRequestPhase.Ready:
        return { ...base, phase: 'ready' };
      default:
        return { ...base, phase: 'started' };
    }
  }

  private changed(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch {
        // a listener's failure is its own
      }
    }
  }
}
