/**
 * How to use this homeserver from another Matrix client (Element, Hydrogen,
 * a bot): the homeserver URL is this page's origin (the Service Worker routes
 * /_matrix/ requests to the tab), the user ID is yours, and a password — set
 * here — is what those clients log in with.
 */
import { useEffect, useState } from 'preact/hooks';
import { attempt, closeDialog, say, service } from '../state/actions.ts';
import { myUserId } from '../state/store.ts';
import { CopyButton } from './CopyButton.tsx';
import { Dialog } from './Dialog.tsx';

export function OtherClientsDialog() {
  const [password, setPassword] = useState('');
  const [hasPassword, setHasPassword] = useState<boolean | null>(null);
  const [busy, setBusy] = useState(false);
  const origin = location.origin;
  useEffect(() => {
    void service()
      .hasPassword()
      .then(setHasPassword)
      .catch(() => setHasPassword(false));
  }, []);
  const save = async () => {
    setBusy(true);
    const ok = await attempt('Could not set the password', () => service().setPassword(password));
    setBusy(false);
    if (!ok) return;
    setPassword('');
    setHasPassword(true);
    say('Password set: other Matrix clients can log in as you now.');
  };
  return (
    <Dialog title="Use another Matrix client" onClose={closeDialog}>
      <p>
        Any Matrix client served from this address can use your homeserver while this tab is open. Give it these details and log in with a
        password.
      </p>
      <dl class="client-details">
        <dt>Homeserver URL</dt>
        <dd>
          <output aria-label="Homeserver URL">{origin}</output> <CopyButton text={origin} label="Copy homeserver URL" visible="Copy" />
        </dd>
        <dt>User ID</dt>
        <dd>
          <output aria-label="Your user ID for other clients">{myUserId.value}</output>{' '}
          <CopyButton text={myUserId.value} label="Copy user ID" visible="Copy" />
        </dd>
      </dl>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label>
          {hasPassword ? 'Change your password' : 'Set a password'}
          <input
            type="password"
            autocomplete="new-password"
            minLength={8}
            value={password}
            required
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <p class="muted small-text">
          {hasPassword === null ? '' : hasPassword ? 'A password is set.' : 'No password yet: other clients cannot log in as you.'} At least 8
          characters.
        </p>
        <div class="dialog-actions">
          <button type="submit" class="primary" disabled={busy || password.length < 8}>
            Save password
          </button>
        </div>
      </form>
    </Dialog>
  );
}
