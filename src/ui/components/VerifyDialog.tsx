/**
 * Emoji verification (SAS), one flow: the request (accept or decline), the
 * wait for the other side, the seven emoji to compare with theirs ("They
 * match" / "They don't match"), the wait for their confirmation, and the
 * end — verified, or cancelled with the reason. The protocol runs in the
 * worker (src/app/e2ee-security.ts); this only shows it and passes the
 * person's answers on.
 */
import { useEffect, useState } from 'preact/hooks';
import type { VerificationView } from '../../app/e2ee-security.ts';
import { localpart } from '../format.ts';
import { attempt, service } from '../state/actions.ts';
import { members, myUserId } from '../state/store.ts';
import { shownVerification, verificationFlows, watchVerifications } from '../state/verification.ts';
import { Dialog } from './Dialog.tsx';

// The seven emoji in a row that wraps (styles kept here: only this dialog shows them).
const SAS_LIST = { display: 'flex', flexWrap: 'wrap', gap: '0.75rem', listStyle: 'none', padding: 0, margin: '1rem 0' } as const;
const SAS_ITEM = { display: 'flex', flexDirection: 'column', alignItems: 'center', minWidth: '4.5rem' } as const;
const SAS_SYMBOL = { fontSize: '2.25rem', lineHeight: 1.2 } as const;

function nameOf(userId: string): string {
  return members.value.find((m) => m.userId === userId)?.displayName ?? localpart(userId);
}

export function VerifyDialog() {
  const flowId = shownVerification.value;
  const [busy, setBusy] = useState(false);
  if (!flowId) return null;
  const flow = verificationFlows.value.find((f) => f.flowId === flowId);
  const close = () => {
    shownVerification.value = null;
  };
  const act = async (action: 'accept' | 'confirm' | 'cancel') => {
    setBusy(true);
    await attempt('Could not answer the verification', () => service().verificationAction(flowId, action));
    setBusy(false);
  };
  const self = flow?.self ?? flow?.otherUserId === myUserId.value;
  const who = flow ? (self ? `your other device${flow.otherDeviceId ? ` (${flow.otherDeviceId})` : ''}` : nameOf(flow.otherUserId)) : '';
  return (
    <Dialog title={self ? 'Verify your device' : 'Verify this person'} onClose={close}>
      <div class="verify" aria-live="polite">
        {!flow && <p>Starting…</p>}
        {flow && <Step flow={flow} who={who} busy={busy} act={act} close={close} />}
      </div>
    </Dialog>
  );
}

function Step(props: { flow: VerificationView; who: string; busy: boolean; act: (a: 'accept' | 'confirm' | 'cancel') => void; close: () => void }) {
  const { flow, who, busy, act, close } = props;
  switch (flow.phase) {
    case 'requested':
      return (
        <>
          <p>
            <strong>{who}</strong> wants to verify {flow.self ? 'this device' : 'you'} by comparing emoji.
          </p>
          <div class="actions">
            <button type="button" class="primary" disabled={busy} onClick={() => act('accept')}>
              Accept
            </button>
            <button type="button" disabled={busy} onClick={() => act('cancel')}>
              Decline
            </button>
          </div>
        </>
      );
    case 'waiting':
    case 'ready':
    case 'started':
      return (
        <>
          <p>{flow.weStarted ? `Waiting for ${who} to accept…` : 'Getting the emoji ready…'}</p>
          <div class="actions">
            <button type="button" disabled={busy} onClick={() => act('cancel')}>
              Cancel
            </button>
          </div>
        </>
      );
    case 'emoji':
      return (
        <>
          <p>
            Check that <strong>{who}</strong> sees the same emoji, in the same order. Compare them in person or on a call you trust.
          </p>
          <ol class="sas-emoji" aria-label="Emoji to compare" style={SAS_LIST}>
            {(flow.emoji ?? []).map((e) => (
              <li key={e.name} style={SAS_ITEM}>
                <span class="sas-symbol" aria-hidden="true" style={SAS_SYMBOL}>
                  {e.symbol}
                </span>
                <span class="sas-name small-text">{e.name}</span>
              </li>
            ))}
          </ol>
          <div class="actions">
            <button type="button" class="primary" disabled={busy} onClick={() => act('confirm')}>
              They match
            </button>
            <button type="button" class="danger" disabled={busy} onClick={() => act('cancel')}>
              They don’t match
            </button>
          </div>
        </>
      );
    case 'confirmed':
      return <p>Waiting for {who} to confirm…</p>;
    case 'done':
      return (
        <>
          <p class="verified-note">
            <span aria-hidden="true">✓ </span>
            {flow.self ? 'Your device is verified.' : `${who} is verified.`} Messages with {flow.self ? 'it' : 'them'} are end-to-end encrypted to keys you checked.
          </p>
          <div class="actions">
            <button type="button" class="primary" onClick={close}>
              Done
            </button>
          </div>
        </>
      );
    case 'cancelled':
      return (
        <>
          <p>The verification was cancelled{flow.cancelReason ? `: ${flow.cancelReason}` : '.'}</p>
          <div class="actions">
            <button type="button" onClick={close}>
              Close
            </button>
          </div>
        </>
      );
  }
}

/** Follows the worker's verifications and shows the Verify dialog when one is on (mounted once, in the Shell). */
export function VerificationCenter() {
  useEffect(() => watchVerifications(), []);
  return <VerifyDialog />;
}
