import { useEffect } from 'preact/hooks';
import { DurabilityNotices } from './components/DurabilityNotices.tsx';
import { OpenElsewhere } from './components/OpenElsewhere.tsx';
import { ErrorNote } from './components/ErrorNote.tsx';
import { Onboarding } from './components/Onboarding.tsx';
import { Shell } from './components/Shell.tsx';
import { Toast } from './components/Toast.tsx';
import { TopBar } from './components/TopBar.tsx';
import { boot } from './state/actions.ts';
import { fatal, phase } from './state/store.ts';

export function App() {
  useEffect(() => {
    void boot();
  }, []);
  const p = phase.value;
  return (
    <div class="app">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <TopBar />
      <DurabilityNotices />
      {p === 'starting' && (
        <main class="center-page" id="main">
          <p class="muted" role="status">
            Starting your homeserver…
          </p>
        </main>
      )}
      {p === 'failed' && (
        <main class="center-page" id="main">
          <div class="card" role="alert">
            <h2>The homeserver could not start</h2>
            <ErrorNote error={fatal.value} />
            <button type="button" onClick={() => location.reload()}>
              Try again
            </button>
          </div>
        </main>
      )}
      {p === 'elsewhere' && (
        <main class="center-page" id="main">
          <OpenElsewhere />
        </main>
      )}
      {p === 'moved' && (
        <main class="center-page" id="main">
          <div class="card" role="status">
            <h2>Your homeserver moved to another tab</h2>
            <p>Another tab of this browser took it over: a homeserver runs in one tab at a time. You can close this tab.</p>
            <button type="button" onClick={() => location.reload()}>
              Use it here again
            </button>
          </div>
        </main>
      )}
      {p === 'onboarding' && (
        <main class="center-page" id="main">
          <Onboarding />
        </main>
      )}
      {p === 'ready' && <Shell />}
      <Toast />
    </div>
  );
}
