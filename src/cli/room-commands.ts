// Filled in once the auth rules and state resolution land.
import type { Command } from './commands.ts';
import { UsageError } from './io.ts';

export const authCheckCommand: Command = {
  args: '--room-version V',
  summary: '{"event": PDU, "auth_events": [PDU, ...]} -> {"allowed": bool, "reason": "..."}',
  async run() {
    throw new UsageError('auth-check is not available in this build');
  },
};
export const resolveStateCommand: Command = {
  args: '--room-version V',
  summary: '{"events": [PDU, ...], "at": ["$id", ...]} -> {"$id": {type: {state_key: event_id}}}',
  async run() {
    throw new UsageError('resolve-state is not available in this build');
  },
};
