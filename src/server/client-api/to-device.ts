/**
 * `PUT /sendToDevice/{eventType}/{txnId}`: messages to other devices (Olm
 * key shares, verification). Idempotent per (device, transaction ID): a
 * retried request sends nothing twice. Local recipients' messages are
 * queued for their /sync (sync-e2ee.ts); remote ones leave through the
 * outbox as m.direct_to_device, so they wait out partitions like PDUs.
 */
import { type JsonObject, isJsonObject } from '../../core/json.ts';
import { MatrixError } from '../errors.ts';
import type { Route } from './router.ts';

/** Recipient entries (user × device) one request may name. */
const MAX_RECIPIENTS = 1000;

/** In-flight sends by `user\ndevice\ntxn`, so a retry racing its original waits for it. */
const inFlight = new Map<string, Promise<void>>();

function parseMessages(v: unknown): Record<string, Record<string, JsonObject>> {
  if (!isJsonObject(v)) throw new MatrixError('M_BAD_JSON', '"messages" must be an object of user IDs to {device ID: content}');
  let n = 0;
  for (const [user, byDevice] of Object.entries(v)) {
    if (!user.startsWith('@') || !user.includes(':')) throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(user)} is not a user ID`);
    if (!isJsonObject(byDevice)) throw new MatrixError('M_BAD_JSON', `messages.${user} must be an object of device IDs to contents`);
    for (const [device, content] of Object.entries(byDevice)) {
      if (!isJsonObject(content)) throw new MatrixError('M_BAD_JSON', `messages.${user}.${device} must be an object`);
      if (++n > MAX_RECIPIENTS) throw new MatrixError('M_INVALID_PARAM', `a request reaches at most ${MAX_RECIPIENTS} devices`);
    }
  }
  return v as Record<string, Record<string, JsonObject>>;
}

export const toDeviceRoutes: Route[] = [
  {
    method: 'PUT',
    family: 'client',
    path: '/sendToDevice/:eventType/:txnId',
    auth: 'required',
    async handle(ctx) {
      const { api, session } = ctx;
      const type = ctx.params.eventType!;
      if (type.length > 255) throw new MatrixError('M_INVALID_PARAM', 'the event type is longer than 255 characters');
      const key = `${session.deviceId}\n${ctx.params.txnId}`;
      if (api.getData(session.userId, 'txn_to_device', key) !== undefined) return { json: {} };
      const flightKey = `${api.serverName}\n${session.userId}\n${key}`;
      const running = inFlight.get(flightKey);
      if (running) {
        await running;
        return { json: {} };
      }
      const messages = parseMessages(ctx.body().messages);
      api.limits.send.take(`${session.userId}\n${session.deviceId}`, 'to-device requests');
      const p = (async () => {
        const stamped = api.stampData([{ user_id: session.userId, kind: 'txn_to_device', key, value: true }]);
        await api.hs.e2ee.sendToDevice(session.userId, type, messages, stamped);
        api.dataWritten(stamped);
      })();
      inFlight.set(flightKey, p);
      try {
        await p;
      } finally {
        inFlight.delete(flightKey);
      }
      return { json: {} };
    },
  },
];
