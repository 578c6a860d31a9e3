/**
 * The page's side of direct links: it owns the RTCPeerConnections for its
 * homeserver worker, which cannot create them. The worker decides when to
 * link and does the signalling over libp2p; the page creates each peer
 * connection with one pre-negotiated data channel and transfers that channel
 * to the worker at once — a data channel can be transferred only before it
 * opens — and then only relays SDP between the worker and the connection.
 */
import { type BridgeCall, type PageToWorker, type WorkerToPage, isBridgeMessage } from './webrtc-bridge.ts';

/** Only host candidates: no STUN/TURN is reachable here, and two tabs of one machine need none. */
const RTC_CONFIG: RTCConfiguration = { iceServers: [] };
/** Gathering host candidates takes milliseconds; past this, send what we have (the answer still carries some). */
const GATHER_TIMEOUT_MS = 3_000;

export interface WebrtcBridge {
  /** Test hook: cut (or restore) the worker's relay connection. */
  blockRelays(block: boolean): void;
  close(): void;
}

/** Serves `worker`'s peer-connection requests. Without RTCPeerConnection it does nothing and the tab stays relayed. */
export function installWebrtcBridge(worker: Worker): WebrtcBridge | undefined {
  if (typeof RTCPeerConnection === 'undefined') return undefined;
  const pcs = new Map<number, RTCPeerConnection>();
  const post = (m: PageToWorker, transfer?: Transferable[]) => worker.postMessage(m, transfer ?? []);

  const run = async (pcId: number, call: BridgeCall): Promise<{ sdp?: string; channel?: RTCDataChannel }> => {
    if (call.op === 'create') {
      const pc = new RTCPeerConnection(RTC_CONFIG);
      pcs.set(pcId, pc);
      pc.addEventListener('connectionstatechange', () => {
        if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
          pcs.delete(pcId);
          pc.close();
          post({ hearthRtc: 'gone', pc: pcId });
        }
      });
      // Negotiated with a fixed id on both sides: no `datachannel` event, so both ends have it at creation and can transfer it.
      const channel = pc.createDataChannel('libp2p', { negotiated: true, id: 0, ordered: true });
      channel.binaryType = 'arraybuffer';
      return { channel };
    }
    const pc = pcs.get(pcId);
    if (!pc) throw new Error(`no peer connection ${pcId}`);
    switch (call.op) {
      case 'offer':
        await pc.setLocalDescription();
        await gathered(pc);
        return { sdp: pc.localDescription?.sdp ?? '' };
      case 'accept-offer':
        await pc.setRemoteDescription({ type: 'offer', sdp: call.sdp });
        await pc.setLocalDescription();
        await gathered(pc);
        return { sdp: pc.localDescription?.sdp ?? '' };
      case 'accept-answer':
        await pc.setRemoteDescription({ type: 'answer', sdp: call.sdp });
        return {};
      case 'close':
        pcs.delete(pcId);
        pc.close();
        return {};
    }
  };

  const onMessage = (ev: MessageEvent) => {
    if (!isBridgeMessage(ev.data)) return;
    const m = ev.data as WorkerToPage;
    if (m.hearthRtc === 'probe') {
      post({ hearthRtc: 'ready' });
      return;
    }
    if (m.hearthRtc !== 'call') return;
    run(m.pc, m.call).then(
      (r) => {
        if (m.req === 0) return; // fire-and-forget (close)
        if (r.channel) post({ hearthRtc: 'reply', req: m.req, ok: true, channel: r.channel }, [r.channel as unknown as Transferable]);
        else post({ hearthRtc: 'reply', req: m.req, ok: true, ...(r.sdp !== undefined ? { sdp: r.sdp } : {}) });
      },
      (err: unknown) => {
        if (m.req !== 0) post({ hearthRtc: 'reply', req: m.req, ok: false, error: err instanceof Error ? err.message : String(err) });
      },
    );
  };
  worker.addEventListener('message', onMessage);
  // The worker probes when its network starts; say hello too in case it already did.
  post({ hearthRtc: 'ready' });
  const bridge: WebrtcBridge = {
    blockRelays: (block) => post({ hearthRtc: 'debug', op: block ? 'block-relays' : 'unblock-relays' }),
    close: () => {
      worker.removeEventListener('message', onMessage);
      for (const pc of pcs.values()) pc.close();
      pcs.clear();
    },
  };
  // Reachable from devtools and browser tests (e2e/webrtc.spec.ts cuts the relay with it).
  (globalThis as { hearthWebrtc?: WebrtcBridge }).hearthWebrtc = bridge;
  return bridge;
}

function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve();
    };
    const onChange = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, GATHER_TIMEOUT_MS);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}
