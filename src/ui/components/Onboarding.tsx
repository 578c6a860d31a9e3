import { useEffect, useState } from 'preact/hooks';
import { usernameFrom } from '../format.ts';
import { usernameProblem } from '../errors.ts';
import { loadNetwork, register } from '../state/actions.ts';
import { session } from '../state/store.ts';
import { ConnectionState } from './ConnectionState.tsx';
import { RestoreBackup } from './BackupDialog.tsx';
import { HomeserverPicker } from './HomeserverPicker.tsx';

/** First visit: pick a display name (and username) for this tab's homeserver. */
export function Onboarding() {
  const [displayName, setDisplayName] = useState('');
  const [username, setUsername] = useState('');
  const [userEdited, setUserEdited] = useState(false);
  const [busy, setBusy] = useState(false);
  const server = session.value?.serverName ?? '';
  const localpart = userEdited ? username : usernameFrom(displayName);
  const problem = userEdited ? usernameProblem(localpart) : undefined;
  // The status line says what the homeserver is waiting for (the relay) while the person picks a name.
  useEffect(() => {
    void loadNetwork();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!displayName.trim() || problem) return;
    setBusy(true);
    await register(localpart, displayName.trim());
    setBusy(false);
  };

  return (
    <section class="onboarding card" aria-labelledby="onboarding-title">
      <h2 id="onboarding-title">Welcome</h2>
      <p>
        This tab is now running its own Matrix homeserver. Its data lives in this browser's storage and its server name
        is a cryptographic key generated just now. Other people's tabs reach it peer-to-peer, through a relay.
      </p>
      <p class="muted">
        Server: <code class="server-name">{server}</code>
        <br />
        <ConnectionState />
      </p>
      <form onSubmit={submit}>
        <label>
          Display name
          <input
            type="text"
            value={displayName}
            autoComplete="nickname"
            required
            maxLength={64}
            onInput={(e) => setDisplayName(e.currentTarget.value)}
          />
        </label>
        <label>
          Username
          <input
            type="text"
            value={localpart}
            maxLength={64}
            aria-invalid={problem ? 'true' : undefined}
            aria-describedby="user-id-preview username-problem"
            onInput={(e) => {
              setUserEdited(true);
              setUsername(e.currentTarget.value.toLowerCase());
            }}
          />
        </label>
        <p id="username-problem" class="field-error" aria-live="polite">
          {problem}
        </p>
        <p id="user-id-preview" class="muted small-text">
          Your user ID will be <code>{`@${localpart}:${server}`}</code>
        </p>
        <button type="submit" class="primary" disabled={busy || !displayName.trim() || !!problem}>
          Start
        </button>
      </form>
      <RestoreBackup />
      <HomeserverPicker />
    </section>
  );
}
