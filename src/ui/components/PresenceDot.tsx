export function PresenceDot(props: { presence: string | undefined }) {
  const p = props.presence ?? 'offline';
  return <span class={`presence ${p}`} role="img" aria-label={p} title={p} />;
}
