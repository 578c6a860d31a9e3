/**
 * "Back up / move this homeserver" and "Restore from a backup file": one
 * encrypted file holding the server's key, accounts, rooms and (optionally)
 * media (src/server/backup). A move retires this copy once the file is made:
 * one server name must not sign events in two places (docs/data.md).
 */
import { useState } from 'preact/hooks';
import { downloadBlob } from '../durability.ts';
import { attempt, openHomeserver, say, service } from '../state/actions.ts';
import { remember } from '../state/directory.ts';
import { humanError } from '../errors.ts';
import { session } from '../state/store.ts';

const MIN_PASSPHRASE = 8;

export function BackupSection() {
  const [open, setOpen] = useState(false);
  const [mode, setMode] = useState<'backup' | 'move'>('backup');
  const [pass, setPass] = useState('');
  const [again, setAgain] = useState('');
  const [to, setTo] = useState('');
  const [media, setMedia] = useState(true);
  const [busy, setBusy] = useState(false);
  if (session.value?.movedAway) return null;
  const problem =
    pass.length > 0 && pass.length < MIN_PASSPHRASE
      ? `Use at least ${MIN_PASSPHRASE} characters.`
      : again.length > 0 && again !== pass
        ? 'The two passphrases differ.'
        : undefined;
  return (
    <details class="picker backup-section" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Back up / move this homeserver</summary>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (problem || pass !== again) return;
          setBusy(true);
          const ok = await attempt('Could not make the backup', async () => {
            const file = await service().backupHomeserver({ passphrase: pass, mode, media, ...(mode === 'move' && to.trim() ? { to: to.trim() } : {}) });
            downloadBlob(file.blob, file.fileName);
            if (mode === 'move' && session.value) session.value = { ...session.value, movedAway: { ts: Date.now(), ...(to.trim() ? { to: to.trim() } : {}) } };
          });
          setBusy(false);
          if (ok) {
            setPass('');
            setAgain('');
            say(mode === 'move' ? 'Moved: restore the file where your homeserver goes next' : 'Backup saved: keep the file and its passphrase safe');
          }
        }}
      >
        <fieldset>
          <legend>What to make</legend>
          <label>
            <input type="radio" name="backup-mode" checked={mode === 'backup'} onChange={() => setMode('backup')} /> A backup: this homeserver keeps running here
          </label>
          <label>
            <input type="radio" name="backup-mode" checked={mode === 'move'} onChange={() => setMode('move')} /> A move: this copy stops (read-only) and
            the file continues it elsewhere
          </label>
        </fieldset>
        {mode === 'move' && (
          <label>
            Where it goes (optional, shown here afterwards)
            <input type="text" value={to} maxLength={200} onInput={(e) => setTo(e.currentTarget.value)} />
          </label>
        )}
        <label>
          Passphrase
          <input type="password" autocomplete="new-password" value={pass} required onInput={(e) => setPass(e.currentTarget.value)} />
        </label>
        <label>
          Passphrase again
          <input type="password" autocomplete="new-password" value={again} required onInput={(e) => setAgain(e.currentTarget.value)} />
        </label>
        <label>
          <input type="checkbox" checked={media} onChange={(e) => setMedia(e.currentTarget.checked)} /> Include images and files
        </label>
        <p class="field-error" aria-live="polite">
          {problem ?? ''}
        </p>
        <p class="muted small-text">
          Without the passphrase the file cannot be opened — by anyone, you included. Restoring a plain backup while this copy still runs
          would put your server name in two places: use “move” to go elsewhere.
        </p>
        <button type="submit" class={mode === 'move' ? 'danger' : 'primary'} disabled={busy || !!problem || !pass || pass !== again}>
          {busy ? 'Encrypting…' : mode === 'move' ? 'Move: download the file and retire this copy' : 'Download the backup file'}
        </button>
      </form>
    </details>
  );
}

export function RestoreBackup() {
  const [file, setFile] = useState<File | null>(null);
  const [pass, setPass] = useState('');
  const [busy, setBusy] = useState(false);
  // Shown in the form, beside what to fix (a toast would cover the form at the foot of the page).
  const [problem, setProblem] = useState('');
  return (
    <details class="picker restore-section">
      <summary>Restore from a backup file</summary>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!file || !pass) return;
          setBusy(true);
          setProblem('');
          try {
            const restored = await service().restoreBackup(file, pass);
            remember(restored);
            say('Restored: opening it');
            openHomeserver(restored.dbName);
          } catch (err) {
            setProblem(`Could not restore the backup. ${humanError(err).text}`);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>
          Backup file
          <input type="file" accept=".hearth-backup,application/octet-stream" required onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
        </label>
        <label>
          Passphrase
          <input type="password" autocomplete="current-password" value={pass} required onInput={(e) => setPass(e.currentTarget.value)} />
        </label>
        <p class="field-error" role="alert">
          {problem}
        </p>
        <p class="muted small-text">The homeserver continues here with the same name, account and rooms; the people you share rooms with catch it up.</p>
        <button type="submit" class="primary" disabled={busy || !file || !pass}>
          {busy ? 'Restoring…' : 'Restore'}
        </button>
      </form>
    </details>
  );
}
