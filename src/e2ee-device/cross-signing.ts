/**
 * Cross-signing for an E2eeDevice (spec: "Cross-signing"): the person's
 * master key signs a self-signing key (which signs their devices) and a
 * user-signing key (which signs the people they verified). The Rust crypto
 * makes the keys and signatures (OlmMachine.bootstrapCrossSigning); this
 * module uploads them in the order the machine asks for — device keys,
 * /keys/device_signing/upload, /keys/signatures/upload.
 *
 * /keys/device_signing/upload needs user-interactive auth once keys exist on
 * the server (a reset); the first upload of a new account needs none. When
 * the homeserver asks for m.login.password, `password` is called and its
 * answer sent with the server's session (m.login.dummy for an account
 * without a password).
 */
import type { CsRequest, E2eeDevice } from './device.ts';

export type CrossSigningState = 'ready' | 'missing' | 'elsewhere';

/**
 * 'ready': this device holds the private cross-signing keys; 'elsewhere': the
 * person has an identity on the server but this device lacks its keys (verify
 * this device from another one, or reset); 'missing': no identity yet.
 */
export async function crossSigningState(dev: E2eeDevice): Promise<CrossSigningState> {
  const s = await dev.machine.crossSigningStatus();
  if (s.hasMaster && s.hasSelfSigning && s.hasUserSigning) return 'ready';
  const own = await dev.machine.getIdentity(new dev.wasm.UserId(dev.userId));
  return own ? 'elsewhere' : 'missing';
}

export class PasswordRequiredError extends Error {
  constructor() {
    super('Replacing the cross-signing keys needs the account password.');
    this.name = 'PasswordRequiredError';
  }
}

/**
 * Creates this person's cross-signing identity (reset: a new one even if one
 * exists) and uploads it. `password` answers the homeserver's UIA; without
 * one, a server that asks for it makes this throw PasswordRequiredError.
 */
export async function bootstrapCrossSigning(dev: E2eeDevice, request: CsRequest, opts: { reset?: boolean; password?: () => Promise<string | undefined> } = {}): Promise<void> {
  const reqs = await dev.machine.bootstrapCrossSigning(opts.reset ?? true);
  if (reqs.uploadKeysRequest) await dev.sendOutgoing(reqs.uploadKeysRequest);
  const body = JSON.parse(reqs.uploadSigningKeysRequest.body) as Record<string, unknown>;
  const path = '/_matrix/client/v3/keys/device_signing/upload';
  let res = await request('POST', path, JSON.stringify(body));
  if (res.status === 401) {
    // Accounts with a password answer m.login.password; those without (a Hearth tab's person who
    // never set one) are offered m.login.dummy, which needs nothing but the server's session.
    const uia = (res.json ?? {}) as { flows?: { stages?: unknown }[]; session?: unknown };
    const offers = (stage: string) => uia.flows?.some((f) => Array.isArray(f.stages) && f.stages.length === 1 && f.stages[0] === stage) ?? false;
    const session = typeof uia.session === 'string' ? { session: uia.session } : {};
    let auth: Record<string, unknown>;
    if (offers('m.login.dummy')) auth = { type: 'm.login.dummy', ...session };
    else {
      const password = offers('m.login.password') && opts.password ? await opts.password() : undefined;
      if (!password) throw new PasswordRequiredError();
      auth = { type: 'm.login.password', identifier: { type: 'm.id.user', user: dev.userId }, password, ...session };
    }
    res = await request('POST', path, JSON.stringify({ ...body, auth }));
    if (res.status === 401 || res.status === 403) throw new Error('The homeserver did not accept the password.');
  }
  if (res.status !== 200) throw new Error(`the homeserver refused the cross-signing keys (${res.status}: ${JSON.stringify(res.json).slice(0, 200)})`);
  await dev.sendOutgoing(reqs.uploadSignaturesRequest);
}
