/**
 * Profile → Encryption: this tab's device (its ID and key), whether it is
 * cross-signed, the key backup, and recovery. "Set up a recovery key" makes
 * a key backup on the homeserver and shows its recovery key once — copy it,
 * then say it is saved; it is never shown again. "Restore with a recovery
 * key" (a new device of the same person, e.g. after restoring the homeserver
 * from a backup file in another browser) brings back the keys of earlier
 * encrypted messages. "Verify another device" asks one's other devices to
 * compare emoji.
 */
import { useEffect, useState } from 'preact/hooks';
import type { EncryptionStatus } from '../../app/e2ee-security.ts';
import { attempt, say, service } from '../state/actions.ts';
import { myUserId } from '../state/store.ts';
import { startVerification } from '../state/verification.ts';
import { CopyButton } from './CopyButton.tsx';

function crossSigningText(st: EncryptionStatus): string {
  if (st.crossSigning === 'ready') return st.deviceVerified ? 'Set up; this device is verified' : 'Set up';
  if (st.crossSigning === 'elsewhere') return st.deviceVerified ? 'This device is verified by your other device' : 'Set up on another device — verify this one from it';
  return 'Not set up yet';
}

export function EncryptionSettings() {
  const [st, setSt] = useState<EncryptionStatus | null>(null);
  const [shownKey, setShownKey] = useState<string | null>(null);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [restoreError, setRestoreError] = useState<string | null>(null);
  const load = () =>
    service()
      .encryptionStatus()
      .then(setSt)
      .catch(() => setSt(null));
  useEffect(() => {
    void load();
    // The backup's count moves as room keys are backed up: kept current while the profile is open.
    const timer = setInterval(() => void load(), 5_000);
    return () => clearInterval(timer);
  }, []);

  const setUp = async () => {
    setBusy(true);
    await attempt('Could not set up the recovery key', async () => setShownKey((await service().setUpRecovery()).recoveryKey));
    setBusy(false);
    void load();
  };
  const restore = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setRestoreError(null);
    try {
      const r = await service().restoreFromRecoveryKey(typed);
      setTyped('');
      say(`Restored the keys of ${r.imported} message session${r.imported === 1 ? '' : 's'} from the key backup`);
    } catch (err) {
      setRestoreError(err instanceof Error ? err.message : String(err));
    }
    setBusy(false);
    void load();
  };

  return (
    <fieldset class="encryption-settings">
      <legend>Encryption</legend>
      {!st && <p class="muted small-text">This tab’s encryption is starting…</p>}
      {st && (
        <dl class="profile-details">
          <dt>This device</dt>
          <dd>
            <output aria-label="This device’s ID">{st.deviceId}</output>{' '}
            <span class="muted small-text" title="This device’s Ed25519 key: other clients show it as its session key">
              {st.fingerprint.replace(/(.{4})/g, '$1 ').trim()}
            </span>
          </dd>
          <dt>Cross-signing</dt>
          <dd>
            <output aria-label="Cross-signing">{crossSigningText(st)}</output>
          </dd>
          <dt>Key backup</dt>
          <dd>
            <output aria-label="Key backup">
              {st.backup
                ? `${st.backup.keys} message key${st.backup.keys === 1 ? '' : 's'} backed up${st.backup.thisDevice ? '' : ' — restore them with your recovery key'}`
                : 'Off'}
            </output>
          </dd>
        </dl>
      )}
      {shownKey ? (
        <section class="recovery-key-shown" aria-label="Your recovery key">
          <p>
            This is your <strong>recovery key</strong>. With it, a new device of yours can read your earlier encrypted messages. Keep it somewhere safe — it is
            shown only now, and nobody (not even your homeserver) can recover it for you.
          </p>
          <output class="recovery-key" aria-label="Recovery key" style={{ fontFamily: 'monospace', fontSize: '1.05rem', wordSpacing: '0.2em' }}>
            {shownKey}
          </output>{' '}
          <CopyButton text={shownKey} label="Copy the recovery key" visible="Copy" />
          <div class="actions">
            <button type="button" class="primary" onClick={() => setShownKey(null)}>
              I saved it
            </button>
          </div>
        </section>
      ) : (
        st && (
          <p>
            <button type="button" class="small" disabled={busy} onClick={setUp}>
              {st.backup?.thisDevice ? 'Replace the recovery key' : 'Set up a recovery key'}
            </button>{' '}
            <button type="button" class="small" disabled={busy} onClick={() => startVerification(myUserId.value)}>
              Verify another device
            </button>
          </p>
        )
      )}
      {st?.backup && !st.backup.thisDevice && (
        <form onSubmit={restore}>
          <label>
            Recovery key
            <input
              type="text"
              autocomplete="off"
              spellcheck={false}
              value={typed}
              required
              placeholder="EsT… (48 characters in groups of four)"
              onInput={(e) => setTyped(e.currentTarget.value)}
            />
          </label>
          {restoreError && (
            <p class="error-text" role="alert">
              {restoreError}
            </p>
          )}
          <button type="submit" class="primary" disabled={busy || !typed.trim()}>
            Restore with the recovery key
          </button>
        </form>
      )}
    </fieldset>
  );
}
