// Runs the engine benchmarks in a dedicated worker (as the homeserver runs)
// and publishes the result on window for the Node bench runner to read.
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const out = document.getElementById('out')!;
const finish = (result: unknown) => {
  (window as unknown as { __benchResult: unknown }).__benchResult = result;
  out.textContent = JSON.stringify(result, null, 2);
};
// The worker reports each phase as it starts ({ phase }), then its result.
worker.onmessage = (ev: MessageEvent<{ phase?: string }>) => {
  if (typeof ev.data?.phase === 'string') out.textContent = `running: ${ev.data.phase}`;
  else finish(ev.data);
};
// A worker that fails to load or throws outside its handler would otherwise leave the runner waiting.
worker.onerror = (ev: ErrorEvent) => finish({ ok: false, error: `worker error: ${ev.message || 'failed to load'}` });
// ?pool=off|auto|force: verification in the worker's own thread, as the app decides (default), or
// through a helper even where the app would not start one (to compare); ?events=N; ?origins=K for the
// several-origins ingest run (default 4; 0 skips it); ?rounds=N paired rounds (default 3).
const params = new URLSearchParams(location.search);
worker.postMessage({
  ingestEvents: Number(params.get('events') ?? 2000),
  pool: params.get('pool') ?? 'auto',
  origins: Number(params.get('origins') ?? 4),
  rounds: Number(params.get('rounds') ?? 3),
});
