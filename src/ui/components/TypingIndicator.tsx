import { nameOf } from '../format.ts';
import { displayNames, myUserId, typing } from '../state/store.ts';

export function TypingIndicator() {
  const others = typing.value.filter((u) => u !== myUserId.value).map((u) => nameOf(u, displayNames.value));
  let text = '';
  if (others.length === 1) text = `${others[0]} is typing…`;
  else if (others.length === 2) text = `${others[0]} and ${others[1]} are typing…`;
  else if (others.length > 2) text = 'Several people are typing…';
  return (
    <div class="typing" aria-live="polite">
      {text}
    </div>
  );
}
