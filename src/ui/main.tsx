import { render } from 'preact';
import { App } from './App.tsx';
import { installPermalinks } from './permalink.ts';
import { service } from './state/actions.ts';
import './styles.css';
import './timeline-tools.css';

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');
// Before the app's router reads the address: a permalink's event is taken out of it first.
installPermalinks();
render(<App />, root);
// For tests and demos (e2e/e2ee.spec.ts): this tab's encryption device holds incoming room keys
// (a device slow to sync) until released, so a message waits for its key and then reads.
(globalThis as { __hearthHoldEncryptionKeys?: (hold: boolean) => Promise<void> }).__hearthHoldEncryptionKeys = (hold) =>
  service().holdEncryptionKeys(hold);
