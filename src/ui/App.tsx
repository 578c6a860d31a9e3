import { SUPPORTED_ROOM_VERSIONS } from '../core/room-versions/registry.ts';

export function App() {
  return (
    <main class="hearth">
      <h1>Hearth</h1>
      <p>
        A Matrix homeserver that lives in this browser tab. Room versions supported by this build:{' '}
        {SUPPORTED_ROOM_VERSIONS.join(', ')}.
      </p>
    </main>
  );
}
