import { hueOf, initials } from '../format.ts';

/** Initials on a colour derived from the ID; decorative (the name is always shown beside it). */
export function Avatar(props: { id: string; name: string; size?: 'small' | 'normal' }) {
  return (
    <span
      class={`avatar ${props.size ?? 'normal'}`}
      aria-hidden="true"
      style={{ '--hue': String(hueOf(props.id)) }}
    >
      {initials(props.name)}
    </span>
  );
}
