/**
 * Media on the page: an mxc:// URI becomes an object URL over the bytes the
 * worker hands back (from this homeserver or any peer that has them). The
 * page never puts an mxc or remote URL into `src`. Object URLs are shared
 * per URI while some component shows them and revoked when the last one
 * lets go; a failed fetch is forgotten so the next view tries again.
 */
import { useEffect, useState } from 'preact/hooks';
import { service } from './state/actions.ts';

interface Entry {
  refs: number;
  objectUrl: Promise<string>;
}

const cache = new Map<string, Entry>();

/** An encrypted attachment's EncryptedFile (key, iv, hashes, url). */
export type EncryptedFile = Record<string, unknown> & { url: string };

async function fetchObjectUrl(uri: string, file?: EncryptedFile, mimetype?: string): Promise<string> {
  if (file) {
    // Downloaded and decrypted by the worker's encryption device; only images are shown.
    const blob = await service().downloadEncryptedMedia(file as never, mimetype?.startsWith('image/') ? mimetype : 'application/octet-stream');
    return URL.createObjectURL(blob);
  }
  const media = await service().downloadMedia(uri);
  // Only images are shown: anything else is treated as opaque bytes.
  const type = media.contentType.startsWith('image/') ? media.contentType : 'application/octet-stream';
  return URL.createObjectURL(new Blob([media.bytes as Uint8Array<ArrayBuffer>], { type }));
}

function acquire(uri: string, file?: EncryptedFile, mimetype?: string): Entry {
  let entry = cache.get(uri);
  if (!entry) {
    const created: Entry = { refs: 0, objectUrl: fetchObjectUrl(uri, file, mimetype) };
    created.objectUrl.catch(() => {
      if (cache.get(uri) === created) cache.delete(uri);
    });
    cache.set(uri, created);
    entry = created;
  }
  entry.refs++;
  return entry;
}

function release(uri: string, entry: Entry): void {
  entry.refs--;
  if (entry.refs > 0) return;
  if (cache.get(uri) === entry) cache.delete(uri);
  entry.objectUrl.then(URL.revokeObjectURL, () => undefined);
}

export type MediaState = { status: 'loading' } | { status: 'ready'; src: string } | { status: 'failed'; error: string };

/**
 * The object URL for an mxc:// URI while the calling component is mounted; `retry` asks again after a failure.
 * `file`: the URI holds an encrypted attachment, decrypted with this EncryptedFile.
 */
export function useMedia(uri: string, file?: EncryptedFile, mimetype?: string): { state: MediaState; retry: () => void } {
  const [state, setState] = useState<MediaState>({ status: 'loading' });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let live = true;
    setState({ status: 'loading' });
    const entry = acquire(uri, file, mimetype);
    entry.objectUrl.then(
      (src) => live && setState({ status: 'ready', src }),
      (err: unknown) => live && setState({ status: 'failed', error: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      live = false;
      release(uri, entry);
    };
  }, [uri, attempt]);
  return { state, retry: () => setAttempt((n) => n + 1) };
}
