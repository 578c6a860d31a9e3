/**
 * One RTCDataChannel as a libp2p MultiaddrConnection: a raw, ordered,
 * reliable byte pipe that the node's upgrader then secures with Noise and
 * multiplexes with Yamux, exactly as it does a WebSocket. (@libp2p/webrtc
 * instead maps each libp2p stream to its own data channel; we cannot, because
 * only the page can create channels and it can hand them to the worker only
 * at creation, so the worker gets exactly one.)
 */
import type { AbortOptions, Logger, MultiaddrConnection } from '@libp2p/interface';
import { AbstractMultiaddrConnection, type SendResult } from '@libp2p/utils';
import type { Multiaddr } from '@multiformats/multiaddr';

/**
 * SCTP messages above 16 KiB are not interoperable across browsers and
 * large ones stall the channel's other traffic; Chromium caps at 256 KiB.
 */
const MAX_MESSAGE_BYTES = 16 * 1024;
/** Stop accepting writes above this much queued in the channel, resume at the low-water mark. */
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;

type SendData = Parameters<AbstractMultiaddrConnection['sendData']>[0];

export interface DataChannelConnInit {
  channel: RTCDataChannel;
  remoteAddr: Multiaddr;
  direction: 'inbound' | 'outbound';
  log: Logger;
}

class DataChannelMultiaddrConnection extends AbstractMultiaddrConnection {
  private readonly channel: RTCDataChannel;

  constructor(init: DataChannelConnInit) {
    // Idle is normal for a chat link; liveness is the peer connection's job (ICE consent).
    super({ remoteAddr: init.remoteAddr, direction: init.direction, log: init.log, inactivityTimeout: 0 });
    const channel = init.channel;
    this.channel = channel;
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = LOW_WATER_BYTES;
    channel.addEventListener('message', (evt: MessageEvent) => {
      if (evt.data instanceof ArrayBuffer) this.onData(new Uint8Array(evt.data));
      else this.abort(new Error('the data channel carried a non-binary message'));
    });
    channel.addEventListener('bufferedamountlow', () => this.safeDispatchEvent('drain'));
    // A data channel has no half-close: 'close' from either end ends the whole connection.
    channel.addEventListener('close', () => this.onTransportClosed(), { once: true });
    channel.addEventListener('error', () => this.onRemoteReset(), { once: true });
  }

  sendData(data: SendData): SendResult {
    let sentBytes = 0;
    for (const buf of data) {
      for (let at = 0; at < buf.byteLength; at += MAX_MESSAGE_BYTES) {
        // send() wants an ArrayBuffer-backed view; the slice copies, which also detaches it from a pooled buffer.
        this.channel.send(buf.slice(at, at + MAX_MESSAGE_BYTES));
      }
      sentBytes += buf.byteLength;
    }
    return { sentBytes, canSendMore: this.channel.bufferedAmount < HIGH_WATER_BYTES };
  }

  sendReset(): void {
    this.channel.close();
  }

  async sendClose(options?: AbortOptions): Promise<void> {
    this.channel.close();
    options?.signal?.throwIfAborted();
  }

  sendPause(): void {
    // SCTP has its own flow control; there is no way to pause the remote's writes from here.
  }

  sendResume(): void {}
}

export function dataChannelToMaConn(init: DataChannelConnInit): MultiaddrConnection {
  return new DataChannelMultiaddrConnection(init);
}
