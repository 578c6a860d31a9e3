/**
 * Standard libp2p services for homeservers on servers (`hearth serve`) and
 * the relay, for peers behind NAT (docs/deploy.md, "Discovery: what does
 * what"):
 *  - AutoNAT (@libp2p/autonat): asks peers to dial back the addresses this
 *    node believes it has (its interfaces', and those identify reports others
 *    saw), so it announces only addresses that really work from outside — a
 *    `hearth serve` behind a port-forward learns its public address. The
 *    relay runs it too and so answers its peers' dial-back requests.
 *  - DCUtR (@libp2p/dcutr): two Node peers that met through the relay
 *    (a limited, relayed connection) try a direct connection — hole punching
 *    by simultaneous dial — and move to it when it works. Browsers cannot
 *    accept connections: tabs get direct links over WebRTC instead
 *    (src/net/webrtc), so tabs do not load these.
 * Node only (kept out of the browser bundle: libp2p-transport.ts takes them
 * as extraServices).
 */
import { autoNAT } from '@libp2p/autonat';
import { dcutr } from '@libp2p/dcutr';

/** The services a Node homeserver adds for NAT traversal. */
export function natServices(): Record<string, (components: never) => unknown> {
  return { autonat: autoNAT() as (components: never) => unknown, dcutr: dcutr() as (components: never) => unknown };
}

/** AutoNAT's protocol ids (what a peer offering the service lists in identify). */
export const AUTONAT_PROTOCOL = '/libp2p/autonat/1.0.0';
export const DCUTR_PROTOCOL = '/libp2p/dcutr';
