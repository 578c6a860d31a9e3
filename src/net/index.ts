/** Hearth on libp2p: the Transport implementation, its wire protocols, and the relay. */
export {
  type Libp2pTransport,
  type Libp2pTransportOptions,
  type TransportFactory,
  type TransportStats,
  createLibp2pTransport,
  libp2pPrivateKey,
  peerOfMultiaddr,
} from './libp2p-transport.ts';
export {
  DEFAULT_LIMITS,
  DISCOVERY_TOPIC,
  FEDERATION_PREFIX,
  HOMESERVER_MARKER_PROTOCOL,
  ROOM_TOPIC_PREFIX,
  type WireLimits,
  protocolFor,
  roomTopic,
} from './protocol.ts';
