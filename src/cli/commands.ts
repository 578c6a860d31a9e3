/**
 * The `hearth` CLI commands (a fixed contract: other tools depend on it).
 * Each takes flags and one JSON value from stdin and returns the JSON text to print.
 */
import { decodeBase64 } from '../core/base64.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import { addContentHash, computeEventId, signEvent, withoutEventId } from '../core/hashing.ts';
import { serverNameError } from '../core/ids.ts';
import { type JsonObject, type JsonValue, isJsonObject } from '../core/json.ts';
import { redactEvent } from '../core/redaction.ts';
import { IMPLEMENTED_ROOM_VERSIONS, roomVersion } from '../core/room-versions/registry.ts';
import type { RoomVersionRules } from '../core/room-versions/types.ts';
import { checkKeyId, signJson, verifyJson } from '../core/signing.ts';
import { bestVerifier } from '../crypto/webcrypto-ed25519.ts';
import { authCheckCommand, resolveStateCommand } from './room-commands.ts';
import { type ReadInput, UsageError, parseFlags } from './io.ts';

export interface Command {
  args: string;
  summary: string;
  /** What `hearth <command> --help` prints; without it, the args and summary. */
  help?: string;
  /** The text to print (exit 0), or the text and an exit code for commands that report a verdict. */
  run(argv: string[], readInput: ReadInput): Promise<string | CommandResult>;
}

export interface CommandResult {
  output: string;
  exitCode: number;
}

function requireObject(value: JsonValue, what: string): JsonObject {
  if (!isJsonObject(value)) throw new UsageError(`expected ${what} (a JSON object) on stdin`);
  return value;
}

function serverNameFlag(name: string): string {
  const err = serverNameError(name);
  if (err) throw new UsageError(`--server-name: ${err}`);
  return name;
}

function keyIdFlag(keyId: string): string {
  try {
    checkKeyId(keyId);
  } catch (err) {
    throw new UsageError(`--key-id: ${(err as Error).message}`);
  }
  return keyId;
}

function keyBytesFlag(flag: string, b64: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(b64);
  } catch (err) {
    throw new UsageError(`--${flag}: ${(err as Error).message}`);
  }
  if (bytes.length !== 32) throw new UsageError(`--${flag} must be 32 bytes of unpadded base64, got ${bytes.length} bytes`);
  return bytes;
}

export function roomVersionFlag(v: string): RoomVersionRules {
  try {
    return roomVersion(v);
  } catch (err) {
    throw new UsageError(`--room-version: ${(err as Error).message}; supported: ${IMPLEMENTED_ROOM_VERSIONS.join(', ')}`);
  }
}

const SIGNING_FLAGS = { required: ['server-name', 'key-id', 'seed'] };
const ROOM_VERSION_FLAG = { required: ['room-version'] };

/** Canonicalises to validate that the input can be hashed/signed at all, with a clear message if not. */
function ensureCanonical(obj: JsonObject): void {
  canonicalJson(obj);
}

/** A command, or a loader for one that is heavy to import. */
export type CommandEntry = Command | (() => Promise<Command>);

export const COMMANDS: Record<string, CommandEntry> = {
  'canonical-json': {
    args: '',
    summary: 'any JSON value -> its canonical JSON text',
    async run(argv, readInput) {
      parseFlags(argv, {});
      return canonicalJson(await readInput());
    },
  },
  'sign-json': {
    args: '--server-name NAME --key-id ed25519:ID --seed B64',
    summary: 'object -> the object with this server’s signature added',
    async run(argv, readInput) {
      const f = parseFlags(argv, SIGNING_FLAGS);
      const server = serverNameFlag(f['server-name']!);
      const keyId = keyIdFlag(f['key-id']!);
      const seed = keyBytesFlag('seed', f.seed!);
      const obj = requireObject(await readInput(), 'an object to sign');
      return JSON.stringify(signJson(obj, server, keyId, seed));
    },
  },
  'verify-json': {
    args: '--server-name NAME --key-id ed25519:ID --public-key B64',
    summary: 'signed object -> {"valid": true|false}',
    async run(argv, readInput) {
      const f = parseFlags(argv, { required: ['server-name', 'key-id', 'public-key'] });
      const server = serverNameFlag(f['server-name']!);
      const keyId = keyIdFlag(f['key-id']!);
      const publicKey = keyBytesFlag('public-key', f['public-key']!);
      const obj = requireObject(await readInput(), 'a signed object');
      const valid = await verifyJson(obj, server, keyId, publicKey, await bestVerifier());
      return JSON.stringify({ valid });
    },
  },
  'hash-event': {
    args: '',
    summary: 'PDU -> the PDU with hashes.sha256 set',
    async run(argv, readInput) {
      parseFlags(argv, {});
      const ev = requireObject(await readInput(), 'a PDU');
      ensureCanonical(ev);
      return JSON.stringify(addContentHash(ev));
    },
  },
  'sign-event': {
    args: '--room-version V --server-name NAME --key-id ed25519:ID --seed B64',
    summary: 'PDU -> hashed and signed PDU',
    async run(argv, readInput) {
      const f = parseFlags(argv, { required: ['room-version', ...SIGNING_FLAGS.required] });
      const rules = roomVersionFlag(f['room-version']!);
      const server = serverNameFlag(f['server-name']!);
      const keyId = keyIdFlag(f['key-id']!);
      const seed = keyBytesFlag('seed', f.seed!);
      const ev = requireObject(await readInput(), 'a PDU');
      ensureCanonical(ev);
      return JSON.stringify(signEvent(ev, rules, server, keyId, seed));
    },
  },
  'event-id': {
    args: '--room-version V',
    summary: 'PDU -> {"event_id": "$..."}',
    async run(argv, readInput) {
      const rules = roomVersionFlag(parseFlags(argv, ROOM_VERSION_FLAG)['room-version']!);
      const ev = requireObject(await readInput(), 'a PDU');
      ensureCanonical(withoutEventId(ev));
      return JSON.stringify({ event_id: computeEventId(ev, rules) });
    },
  },
  redact: {
    args: '--room-version V',
    summary: 'event -> redacted event',
    async run(argv, readInput) {
      const rules = roomVersionFlag(parseFlags(argv, ROOM_VERSION_FLAG)['room-version']!);
      const ev = requireObject(await readInput(), 'an event');
      return JSON.stringify(redactEvent(ev, rules));
    },
  },
  'auth-check': authCheckCommand,
  'resolve-state': resolveStateCommand,
  // Loaded on use: they pull in libp2p and the whole engine, which would slow
  // every small conformance command's start-up.
  simulate: async () => (await import('./simulate.ts')).simulateCommand,
  relay: async () => (await import('./relay.ts')).relayCommand,
  serve: async () => (await import('./serve.ts')).serveCommand,
  export: async () => (await import('./backup.ts')).exportCommand,
};
