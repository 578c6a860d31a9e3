/**
 * Emoji verification and trust on the page: the worker's flows
 * (HomeserverService.watchVerifications, src/app/e2ee-security.ts) as a
 * signal, the flow shown in the Verify dialog, and which people this tab has
 * verified (for the members' "Verified" badge).
 */
import { signal } from '@preact/signals';
import * as Comlink from 'comlink';
import type { VerificationView } from '../../app/e2ee-security.ts';
import { attempt, service } from './actions.ts';

export const verificationFlows = signal<VerificationView[]>([]);
/** The flow the Verify dialog shows (a request someone sent opens it by itself). */
export const shownVerification = signal<string | null>(null);
/** userId → verified by this tab (filled as members are looked at and when a verification ends). */
export const verifiedPeople = signal<Record<string, boolean>>({});

let watching = false;
const seen = new Set<string>();

/** Starts following the worker's verification flows (once per page). */
export function watchVerifications(): void {
  if (watching) return;
  watching = true;
  const onFlows = (flows: VerificationView[]) => {
    verificationFlows.value = flows;
    for (const f of flows) {
      if (seen.has(f.flowId)) continue;
      seen.add(f.flowId);
      // Someone asks to verify: show it (unless another verification is on screen).
      if (!f.weStarted && f.phase === 'requested' && shownVerification.value === null) shownVerification.value = f.flowId;
    }
    for (const f of flows) if (f.phase === 'done') void refreshTrust(f.otherUserId);
  };
  void service()
    .watchVerifications(Comlink.proxy(onFlows))
    .catch(() => {
      watching = false;
    });
}

/** Asks the worker whether this tab verified `userId` (and remembers the answer). */
export async function refreshTrust(userId: string): Promise<void> {
  try {
    const t = await service().encryptionTrust(userId);
    if (verifiedPeople.value[userId] !== t.verified) verifiedPeople.value = { ...verifiedPeople.value, [userId]: t.verified };
  } catch {
    // encryption not started yet: no badge
  }
}

/** Starts verifying a person (or, for oneself, one's own other device) and shows the flow. */
export async function startVerification(userId: string, deviceId?: string): Promise<void> {
  await attempt('Could not start the verification', async () => {
    shownVerification.value = await service().verify(userId, deviceId);
  });
}
