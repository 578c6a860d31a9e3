import { useState } from 'preact/hooks';
import type { TimelineItem } from '../api.ts';
import { type EncryptedFile, useMedia } from '../media.ts';
import { Dialog } from './Dialog.tsx';

const THUMB = 320;

/** The thumbnail's CSS size: the image scaled down to fit THUMB×THUMB, when its pixel size is known. */
function thumbSize(width?: number, height?: number): { width: string; height: string } | undefined {
  if (!width || !height || width <= 0 || height <= 0) return undefined;
  const scale = Math.min(1, THUMB / width, THUMB / height);
  return { width: `${Math.max(1, Math.round(width * scale))}px`, height: `${Math.max(1, Math.round(height * scale))}px` };
}

/**
 * An image message: a placeholder while the worker fetches the blob (from
 * any peer that has it), then a thumbnail that opens the full image in a
 * dialog; a clear text if no reachable server has it.
 */
export function ImageMessage(props: { item: TimelineItem }) {
  const image = props.item.image!;
  // A body other than the file name is the sender's caption.
  const caption = image.name && props.item.body && props.item.body !== image.name ? props.item.body : undefined;
  return (
    <>
      <ImageBody item={props.item} />
      {caption && <p class="image-caption">{caption}</p>}
    </>
  );
}

function ImageBody(props: { item: TimelineItem }) {
  const image = props.item.image!;
  const alt = props.item.body || 'image';
  const { state, retry } = useMedia(image.url, image.file as EncryptedFile | undefined, image.mimetype);
  const [open, setOpen] = useState(false);
  const size = thumbSize(image.width, image.height);

  if (state.status === 'loading') {
    return (
      <div class="image-thumb image-placeholder" style={size} role="img" aria-label={`Loading image ${alt}`} aria-busy="true">
        <span class="muted small-text">Loading image…</span>
      </div>
    );
  }
  if (state.status === 'failed') {
    return (
      <div class="image-unavailable" title={state.error}>
        <span>Image unavailable</span> <span class="muted small-text">({alt}: no reachable server has it)</span>{' '}
        <button type="button" class="link-button small-text" onClick={retry}>
          Try again
        </button>
      </div>
    );
  }
  return (
    <>
      <button type="button" class="image-thumb" title={`${alt} — click to enlarge`} onClick={() => setOpen(true)}>
        <img src={state.src} alt={alt} style={size} />
      </button>
      {open && (
        <Dialog title={alt} wide onClose={() => setOpen(false)}>
          <img class="image-full" src={state.src} alt={alt} />
        </Dialog>
      )}
    </>
  );
}
