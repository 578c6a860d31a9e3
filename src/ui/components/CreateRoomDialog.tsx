import { useState } from 'preact/hooks';
import { closeDialog, createRoom } from '../state/actions.ts';
import { Dialog } from './Dialog.tsx';

export function CreateRoomDialog() {
  const [name, setName] = useState('');
  const [topic, setTopic] = useState('');
  const [isPublic, setPublic] = useState(false);
  const [encrypted, setEncrypted] = useState(true);
  const [version, setVersion] = useState('12');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    const ok = await createRoom({ name: name.trim(), topic: topic.trim(), isPublic, roomVersion: version, encrypted: !isPublic && encrypted });
    setBusy(false);
    if (ok) closeDialog();
  };
  return (
    <Dialog title="New room" onClose={closeDialog}>
      <form onSubmit={submit}>
        <label>
          Room name
          <input type="text" value={name} required maxLength={255} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Topic
          <input type="text" value={topic} onInput={(e) => setTopic(e.currentTarget.value)} />
        </label>
        <fieldset>
          <legend>Who can join</legend>
          <label class="inline">
            <input type="radio" name="visibility" checked={!isPublic} onChange={() => setPublic(false)} /> Private
            (invite only)
          </label>
          <label class="inline">
            <input type="radio" name="visibility" checked={isPublic} onChange={() => setPublic(true)} /> Public (anyone,
            listed in Explore)
          </label>
        </fieldset>
        <label class="inline">
          <input type="checkbox" checked={!isPublic && encrypted} disabled={isPublic} onChange={(e) => setEncrypted(e.currentTarget.checked)} /> Encrypt
          messages end to end{isPublic ? ' (private rooms only)' : ''}
        </label>
        <label>
          Room version
          <select value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
            <option value="12">12 (recommended)</option>
            <option value="11">11</option>
            <option value="10">10</option>
            <option value="I.1">I.1 — MIMI draft; standard clients do not show its messages (m.message)</option>
          </select>
        </label>
        <div class="dialog-actions">
          <button type="button" onClick={closeDialog}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy || !name.trim()}>
            Create
          </button>
        </div>
      </form>
    </Dialog>
  );
}
