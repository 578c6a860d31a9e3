/**
 * The person's profile: display name and avatar (changed in every joined
 * room too, as member events), their user ID and server name, their chat
 * link, and the other homeservers stored in this browser.
 */
import { useRef, useState } from 'preact/hooks';
import { chatLink } from '../format.ts';
import { closeDialog, saveProfile, say, setAvatar } from '../state/actions.ts';
import { session } from '../state/store.ts';
import { Avatar } from './Avatar.tsx';
import { CopyButton } from './CopyButton.tsx';
import { Dialog } from './Dialog.tsx';
import { BackupSection, RestoreBackup } from './BackupDialog.tsx';
import { EncryptionSettings } from './EncryptionSettings.tsx';
import { HomeserverPicker } from './HomeserverPicker.tsx';
import { StorageSettings } from './StorageSettings.tsx';

export function ProfileDialog() {
  const me = session.value;
  const [name, setName] = useState(me?.displayName ?? '');
  const [busy, setBusy] = useState(false);
  const fileRef = useRef<HTMLInputElement>(null);
  if (!me?.userId) return null;
  const userId = me.userId;
  const run = async (fn: () => Promise<boolean>, done: string) => {
    setBusy(true);
    const ok = await fn();
    setBusy(false);
    if (ok) say(done);
  };
  return (
    <Dialog title="Your profile" onClose={closeDialog}>
      <div class="profile-head">
        <Avatar id={userId} name={me.displayName ?? userId} size="large" url={me.avatarUrl} />
        <div>
          <input
            ref={fileRef}
            type="file"
            accept="image/*"
            hidden
            onChange={(e) => {
              const file = e.currentTarget.files?.[0];
              e.currentTarget.value = '';
              if (file) void run(() => setAvatar(file), 'Avatar changed in all your rooms');
            }}
          />
          <button type="button" class="small" disabled={busy} onClick={() => fileRef.current?.click()}>
            Choose avatar image
          </button>{' '}
          {me.avatarUrl && (
            <button type="button" class="small" disabled={busy} onClick={() => run(() => saveProfile({ avatar_url: '' }), 'Avatar removed')}>
              Remove avatar
            </button>
          )}
        </div>
      </div>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => saveProfile({ displayname: name }), 'Display name changed in all your rooms');
        }}
      >
        <label>
          Display name
          <input type="text" value={name} maxLength={256} required onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <p class="muted small-text">Shown to everyone in your rooms; the change is sent to every room you are in.</p>
        <button type="submit" class="primary" disabled={busy || !name.trim() || name.trim() === me.displayName}>
          Save display name
        </button>
      </form>
      <dl class="profile-details">
        <dt>User ID</dt>
        <dd>
          <output aria-label="Your user ID in your profile">{userId}</output> <CopyButton text={userId} label="Copy your user ID" visible="Copy" />
        </dd>
        <dt>Server name</dt>
        <dd>
          <output aria-label="Your server name">{me.serverName}</output>
        </dd>
        <dt>Chat link</dt>
        <dd>
          <output aria-label="Your chat link">{chatLink(userId)}</output>{' '}
          <CopyButton text={chatLink(userId)} label="Copy your chat link" visible="Copy" />
        </dd>
      </dl>
      <p class="muted small-text">Anyone who opens your chat link in Hearth can start a direct chat with you.</p>
      <EncryptionSettings />
      <StorageSettings />
      <BackupSection />
      <RestoreBackup />
      <HomeserverPicker />
    </Dialog>
  );
}
