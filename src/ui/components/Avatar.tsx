import { hueOf, initials } from '../format.ts';
import { useMedia } from '../media.ts';

/**
 * The person's avatar image when they chose one (an mxc:// URI), else their
 * initials on a colour derived from the ID; decorative (the name is always shown beside it).
 */
export function Avatar(props: { id: string; name: string; size?: 'small' | 'normal' | 'large'; url?: string | undefined }) {
  const initialsAvatar = (
    <span class={`avatar ${props.size ?? 'normal'}`} aria-hidden="true" style={{ '--hue': String(hueOf(props.id)) }}>
      {initials(props.name)}
    </span>
  );
  if (!props.url) return initialsAvatar;
  return <AvatarImage url={props.url} size={props.size ?? 'normal'} fallback={initialsAvatar} />;
}

function AvatarImage(props: { url: string; size: 'small' | 'normal' | 'large'; fallback: preact.JSX.Element }) {
  const { state } = useMedia(props.url);
  if (state.status !== 'ready') return props.fallback;
  return <img class={`avatar ${props.size} avatar-image`} src={state.src} alt="" aria-hidden="true" />;
}
