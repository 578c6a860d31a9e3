// Runs the engine benchmarks in a dedicated worker (as the homeserver runs)
// and publishes the result on window for the Node bench runner to read.
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const out = document.getElementById('out')!;
worker.onmessage = (ev: MessageEvent) => {
  (window as unknown as { __benchResult: unknown }).__benchResult = ev.data;
  out.textContent = JSON.stringify(ev.data, null, 2);
};
worker.postMessage({ ingestEvents: 1000 });
