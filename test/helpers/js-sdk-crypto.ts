/**
 * A matrix-js-sdk device with its Rust crypto (`initRustCrypto`, the crypto Element uses)
 * against a `hearth serve` process, for the end-to-end encryption tests: registering a
 * user, logging a new device in, and starting it syncing.
 */
import { ClientEvent, type ICreateClientOpts, type MatrixClient, SyncState, createClient } from 'matrix-js-sdk';

export const PASSWORD = 'correct horse battery staple';

/** Registers `username` with PASSWORD, without logging in (no device is made). */
export async function registerUser(baseUrl: string, username: string): Promise<void> {
  await createClient({ baseUrl }).registerRequest({ username, password: PASSWORD, auth: { type: 'm.login.dummy' }, inhibit_login: true });
}

export interface CryptoDevice {
  client: MatrixClient;
  userId: string;
  deviceId: string;
  token: string;
}

/**
 * Logs in a new device of `username`, starts Rust crypto (in memory) and the sync loop, and
 * resolves once the first sync is PREPARED (rejects after 60 s: generous for a loaded 2-core machine). `track` gets the client before
 * it starts (to stop it at the end); `listen` adds listeners before the first sync, so nothing
 * that arrives with it is missed.
 */
export async function cryptoDevice(
  baseUrl: string,
  username: string,
  opts: { track: (client: MatrixClient) => void; listen?: (client: MatrixClient) => void; initialSyncLimit?: number; client?: Partial<ICreateClientOpts> },
): Promise<CryptoDevice> {
  const login = await createClient({ baseUrl }).loginRequest({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: username },
    password: PASSWORD,
  });
  const client = createClient({ baseUrl, userId: login.user_id, accessToken: login.access_token, deviceId: login.device_id, ...opts.client });
  opts.track(client);
  await client.initRustCrypto({ useIndexedDB: false });
  opts.listen?.(client);
  const prepared = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${login.user_id}: no PREPARED sync in 60 s`)), 60_000);
    client.on(ClientEvent.Sync, (state) => {
      if (state === SyncState.Prepared) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await client.startClient({ initialSyncLimit: opts.initialSyncLimit ?? 20 });
  await prepared;
  return { client, userId: login.user_id, deviceId: login.device_id, token: login.access_token };
}
