/**
 * The worker's side of direct links: a PeerConnectionHost whose peer
 * connections live on the page (see webrtc-page.ts), reached by messages on
 * the worker's port. Until the page answers the probe, the host is not ready
 * and the node stays on the relay — which is also what happens in a page
 * that never installed the bridge.
 */
import type { Libp2pTransport } from '../net/libp2p-transport.ts';
import type { PeerConnectionHandle, PeerConnectionHost } from '../net/webrtc/transport.ts';
import { type BridgeCall, type PageToWorker, type WorkerToPage, isBridgeMessage } from './webrtc-bridge.ts';

/** The slice of a DedicatedWorkerGlobalScope we use (the project's lib is DOM, not WebWorker). */
export interface WorkerPort {
  postMessage(message: WorkerToPage): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
}

/** A page call that hangs (page busy, bridge gone) fails rather than holding a link attempt forever. */
const CALL_TIMEOUT_MS = 15_000;

export class PageHost implements PeerConnectionHost {
  private isReady = false;
  private readonly readyCallbacks: (() => void)[] = [];
  private nextReq = 1;
  private nextPc = 1;
  private readonly pending = new Map<number, { resolve: (m: Extract<PageToWorker, { hearthRtc: 'reply' }>) => void; timer: ReturnType<typeof setTimeout> }>();
  private readonly channels = new Map<number, RTCDataChannel>();
  /** Debug messages from the page, for whoever wires them (see attachDebugHooks). */
  onDebug?: (op: 'block-relays' | 'unblock-relays') => void;

  constructor(private readonly port: WorkerPort) {
    port.addEventListener('message', (ev) => {
      if (isBridgeMessage(ev.data)) this.onMessage(ev.data as PageToWorker);
    });
    port.postMessage({ hearthRtc: 'probe' });
  }

  ready(): boolean {
    return this.isReady;
  }

  onReady(callback: () => void): void {
    if (this.isReady) callback();
    else this.readyCallbacks.push(callback);
  }

  private onMessage(m: PageToWorker): void {
    switch (m.hearthRtc) {
      case 'ready':
        if (this.isReady) return;
        this.isReady = true;
        for (const cb of this.readyCallbacks.splice(0)) cb();
        return;
      case 'reply': {
        const p = this.pending.get(m.req);
        if (!p) {
          // Too late: the attempt timed out. A channel sent now would leak its peer connection.
          if (m.ok && m.channel) m.channel.close();
          return;
        }
        this.pending.delete(m.req);
        clearTimeout(p.timer);
        p.resolve(m);
        return;
      }
      case 'gone':
        // ICE failed or the page closed it: closing our end ends the libp2p connection over it.
        this.channels.get(m.pc)?.close();
        return;
      case 'debug':
        this.onDebug?.(m.op);
        return;
    }
  }

  private async call(pc: number, call: BridgeCall): Promise<{ sdp?: string; channel?: RTCDataChannel }> {
    const req = this.nextReq++;
    const reply = await new Promise<Extract<PageToWorker, { hearthRtc: 'reply' }>>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(req);
        resolve({ hearthRtc: 'reply', req, ok: false, error: `the page did not answer ${call.op} in time` });
      }, CALL_TIMEOUT_MS);
      this.pending.set(req, { resolve, timer });
      this.port.postMessage({ hearthRtc: 'call', req, pc, call });
    });
    if (!reply.ok) throw new Error(reply.error);
    return reply;
  }

  async create(): Promise<PeerConnectionHandle> {
    const pc = this.nextPc++;
    const { channel } = await this.call(pc, { op: 'create' });
    if (!channel) throw new Error('the page sent no data channel');
    this.channels.set(pc, channel);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.channels.delete(pc);
      if (channel.readyState !== 'closed') channel.close();
      this.port.postMessage({ hearthRtc: 'call', req: 0, pc, call: { op: 'close' } });
    };
    channel.addEventListener('close', close, { once: true });
    const sdpOf = async (c: BridgeCall) => {
      const { sdp } = await this.call(pc, c);
      if (typeof sdp !== 'string') throw new Error('the page sent no SDP');
      return sdp;
    };
    return {
      channel,
      createOffer: () => sdpOf({ op: 'offer' }),
      acceptOffer: (sdp) => sdpOf({ op: 'accept-offer', sdp }),
      acceptAnswer: async (sdp) => {
        await this.call(pc, { op: 'accept-answer', sdp });
      },
      close,
    };
  }
}

/** Wires the page's debug messages to the transport: cut the relays to show direct links stand alone. */
export function attachDebugHooks(host: PageHost, transport: Libp2pTransport, relays: readonly string[]): void {
  const relayPeers = relays.map((a) => a.split('/p2p/').pop() ?? '').filter((p) => p.length > 0);
  host.onDebug = (op) => {
    for (const p of relayPeers) {
      if (op === 'block-relays') transport.block(p);
      else transport.unblock(p);
    }
  };
}
