import { useState } from 'preact/hooks';
import type { TimelineItem } from '../api.ts';
import { say, service } from '../state/actions.ts';

/** "1.2 KiB", "340 B", "1.5 MiB". */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * A shared file (`m.file`): its name, type and size, and a Download button. The bytes come
 * from the worker (this homeserver or a peer that has them) only when asked for, and are
 * handed to the browser as an opaque download — never opened in the page.
 */
export function FileMessage(props: { item: TimelineItem }) {
  const file = props.item.file!;
  const [busy, setBusy] = useState(false);
  const download = async () => {
    setBusy(true);
    try {
      // An encrypted file is decrypted by the worker's encryption device (its hash checked first).
      const blob = file.file
        ? await service().downloadEncryptedMedia(file.file as never)
        : new Blob([(await service().downloadMedia(file.url)).bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = file.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      say(`Could not download ${file.name}: ${err instanceof Error ? err.message : String(err)}`, true);
    } finally {
      setBusy(false);
    }
  };
  const details = [file.mimetype, file.size !== undefined ? fileSize(file.size) : undefined].filter(Boolean).join(' · ');
  return (
    <div class="file-card">
      <svg aria-hidden="true" width="24" height="24" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2">
        <path d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z" />
        <path d="M14 2v6h6" />
      </svg>
      <span class="file-name">{file.name}</span>
      {details && <span class="muted small-text">{details}</span>}
      <button type="button" class="small" onClick={download} disabled={busy} aria-label={`Download ${file.name}`}>
        {busy ? 'Downloading…' : 'Download'}
      </button>
    </div>
  );
}
