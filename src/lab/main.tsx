import { render } from 'preact';
import { Lab } from './Lab.tsx';
import '../ui/styles.css';
import './lab.css';

const root = document.getElementById('lab');
if (!root) throw new Error('lab.html has no #lab element');
render(<Lab />, root);
