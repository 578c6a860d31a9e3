import { render } from 'preact';
import { App } from './App.tsx';
import { installPermalinks } from './permalink.ts';
import './styles.css';
import './timeline-tools.css';

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');
// Before the app's router reads the address: a permalink's event is taken out of it first.
installPermalinks();
render(<App />, root);
