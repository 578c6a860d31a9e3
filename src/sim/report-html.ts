/**
 * `--report out.html` and `--csv FILE`: the run's numbers as a
 * self-contained page (uPlot and its CSS inlined, data embedded as JSON, no
 * network needed to open it) and as a flat CSV of the samples.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { BatchSummary } from './batch.ts';
import { describeFault } from './chaos.ts';
import type { EventNode } from './checker.ts';
import type { SimReport } from './runner.ts';

/** One CSV row per sample per server (a long table: easy to pivot in any tool). */
export function toCsv(runs: readonly { file: string; report: SimReport }[]): string {
  const rows = ['file,seed,t_ms,server,outbox,dag_width,events,bytes_sent,converged'];
  for (const { file, report } of runs) {
    const m = report.metrics;
    for (const server of Object.keys(m.outbox)) {
      m.t.forEach((t, i) => {
        const cell = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));
        rows.push([csvText(file), cell(report.seed), t, csvText(server), cell(m.outbox[server]![i]), cell(m.width[server]?.[i]), cell(m.events[server]?.[i]), cell(m.bytes[server]?.[i]), m.converged[i]].join(','));
      });
    }
  }
  return `${rows.join('\n')}\n`;
}

function csvText(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function uplotAssets(): { js: string; css: string } {
  const require = createRequire(import.meta.url);
  const dir = require.resolve('uplot/package.json').replace(/package\.json$/, 'dist/');
  return { js: readFileSync(`${dir}uPlot.iife.min.js`, 'utf8'), css: readFileSync(`${dir}uPlot.min.css`, 'utf8') };
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** JSON safe inside a <script> element. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

/** The final DAG, layered by depth (left to right), as SVG. Large DAGs show their last `max` events. */
export function dagSvg(nodes: readonly EventNode[], max = 250): string {
  const shown = [...nodes].sort((a, b) => a.depth - b.depth || (a.eventId < b.eventId ? -1 : 1)).slice(-max);
  const ids = new Set(shown.map((n) => n.eventId));
  const byDepth = new Map<number, EventNode[]>();
  for (const n of shown) {
    const l = byDepth.get(n.depth) ?? [];
    l.push(n);
    byDepth.set(n.depth, l);
  }
  const depths = [...byDepth.keys()].sort((a, b) => a - b);
  const col = new Map(depths.map((d, i) => [d, i]));
  const pos = new Map<string, { x: number; y: number }>();
  const W = 26;
  const H = 22;
  let rows = 1;
  for (const d of depths) {
    const layer = byDepth.get(d)!;
    rows = Math.max(rows, layer.length);
    for (const [i, n] of layer.entries()) pos.set(n.eventId, { x: 16 + col.get(d)! * W, y: 16 + i * H });
  }
  const width = 32 + depths.length * W;
  const height = 32 + rows * H;
  const edges: string[] = [];
  for (const n of shown) {
    const to = pos.get(n.eventId)!;
    for (const p of n.prevEvents) {
      if (!ids.has(p)) continue;
      const from = pos.get(p)!;
      edges.push(`<line x1="${from.x}" y1="${from.y}" x2="${to.x}" y2="${to.y}"/>`);
    }
  }
  const circles = shown.map((n) => {
    const { x, y } = pos.get(n.eventId)!;
    const cls = n.status === 'accepted' ? (n.stateKey !== undefined ? 'state' : 'msg') : n.status;
    const title = `${n.type}${n.stateKey !== undefined ? ` [${n.stateKey}]` : ''} from ${n.sender}\ndepth ${n.depth}, ${n.status}\n${n.eventId}`;
    return `<circle class="${esc(cls)}" cx="${x}" cy="${y}" r="6"><title>${esc(title)}</title></circle>`;
  });
  const note = nodes.length > shown.length ? `<p class="note">The last ${shown.length} of ${nodes.length} events.</p>` : '';
  return `${note}<div class="dag"><svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><g class="edges">${edges.join('')}</g>${circles.join('')}</svg></div>`;
}

/** The fault timeline: one lane per fault, a bar from start to end (open bars run to the end). */
function timelineSvg(report: SimReport): string {
  const m = report.metrics;
  const total = Math.max(1, m.duration_ms);
  const W = 900;
  const lane = 18;
  const x = (t: number) => 140 + (t / total) * (W - 150);
  const bars = m.faults.map((f, i) => {
    const y = 8 + i * lane;
    const end = f.end_ms ?? total;
    const w = Math.max(2, x(end) - x(f.start_ms));
    return `<text x="4" y="${y + 12}">${esc(f.kind)}</text><rect class="f-${esc(f.kind)}" x="${x(f.start_ms)}" y="${y + 2}" width="${w}" height="${lane - 5}"><title>${esc(`${f.kind} ${f.label}: ${f.start_ms}–${f.end_ms ?? 'end'} ms`)}</title></rect><text class="lbl" x="${x(f.start_ms) + w + 4}" y="${y + 12}">${esc(f.label)}</text>`;
  });
  const heals = m.heals.map((h) => {
    const tip = `heal at ${h.t_ms} ms: ${h.converge_ms === null ? 'disturbed again before converging' : `converged in ${h.converge_ms} ms`}`;
    return `<line class="heal" x1="${x(h.t_ms)}" x2="${x(h.t_ms)}" y1="0" y2="${8 + Math.max(1, m.faults.length) * lane}"><title>${esc(tip)}</title></line>`;
  });
  const h = 16 + Math.max(1, m.faults.length) * lane + 14;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text class="tick" x="${x(f * total) - 10}" y="${h - 2}">${Math.round(f * total)}ms</text>`);
  if (m.faults.length === 0) return '<p class="note">No faults.</p>';
  return `<svg class="timeline" width="${W}" height="${h}">${bars.join('')}${heals.join('')}${ticks.join('')}</svg>`;
}

function runSection(title: string, report: SimReport, idx: number): string {
  const m = report.metrics;
  const servers = Object.keys(m.outbox);
  const data = {
    t: m.t,
    servers,
    events: servers.map((s) => m.events[s]),
    width: servers.map((s) => m.width[s]),
    bytes: servers.map((s) => m.bytes[s]),
    outbox: servers.map((s) => m.outbox[s]),
    converged: m.converged,
  };
  const totals = Object.entries(m.totals)
    .map(
      ([s, t]) =>
        `<tr><td>${esc(s)}</td><td>${t.federation.messages}</td><td>${t.federation.bytes}</td><td>${t.gossip.messages}</td><td>${t.gossip.bytes}</td><td>${t.lost}</td><td>${t.duplicates}</td><td>${t.resolutions}</td><td>${t.resolution_ms}</td><td>${t.max_outbox}</td></tr>`,
    )
    .join('');
  const heals = m.heals.map((h) => `<li>heal at ${h.t_ms} ms → ${h.converge_ms === null ? 'interrupted (another fault began first)' : `converged after ${h.converge_ms} ms`}</li>`).join('');
  const schedule = (report.schedule ?? []).map((f) => `<li><code>${esc(describeFault(f))}</code></li>`).join('');
  const violations = (report.check?.violations ?? []).map((v) => `<li><b>${esc(v.invariant)}</b> in ${esc(v.room)}${v.server ? ` on ${esc(v.server)}` : ''}: ${esc(v.detail)}</li>`).join('');
  const failedSteps = report.steps.filter((s) => !s.ok).map((s) => `<li>step ${s.i} (${esc(s.do)}): ${esc(s.error ?? '')}</li>`).join('');
  const dags = Object.entries(report.dags ?? {})
    .map(([room, d]) => `<h4>Room <code>${esc(room)}</code> as ${esc(d.server)} sees it (${d.nodes.length} events)</h4>${dagSvg(d.nodes)}`)
    .join('');
  return `<section>
<h2>${esc(title)} <span class="${report.ok ? 'ok' : 'bad'}">${report.ok ? 'passed' : 'FAILED'}</span></h2>
${report.seed !== undefined ? `<p>Seed <b>${report.seed}</b>. ` : '<p>'}${m.duration_ms} ms, sampled every ${m.sample_ms} ms.</p>
${failedSteps || violations ? `<h3>What did not hold</h3><ul class="bad">${failedSteps}${violations}</ul>` : ''}
${schedule ? `<details><summary>Fault schedule (${report.schedule!.length})</summary><ol>${schedule}</ol></details>` : ''}
<h3>Partition timeline</h3>${timelineSvg(report)}
<ul>${heals}</ul>
<h3>Convergence curve — accepted events per server</h3><div id="events-${idx}"></div>
<h3>DAG width — forward extremities per server</h3><div id="width-${idx}"></div>
<h3>Bytes sent per server (cumulative)</h3><div id="bytes-${idx}"></div>
<h3>Outbox depth per server</h3><div id="outbox-${idx}"></div>
<h3>Per-server totals</h3>
<table><tr><th>server</th><th>federation msgs</th><th>federation bytes</th><th>gossip msgs</th><th>gossip bytes</th><th>lost</th><th>duplicates</th><th>state res runs</th><th>state res ms</th><th>max outbox</th></tr>${totals}</table>
<h3>Final DAG</h3>${dags || '<p class="note">Not captured.</p>'}
<script>charts(${idx}, ${scriptJson(data)});</script>
</section>`;
}

/** The page: a batch summary when there is one, then a section per run shown. */
export function toHtml(opts: { title: string; runs: readonly { file: string; report: SimReport }[]; summary?: BatchSummary }): string {
  const { js, css } = uplotAssets();
  const s = opts.summary;
  const summary = s
    ? `<section><h2>${s.runs} runs: ${s.passed} passed, ${s.failed} failed <span class="${s.ok ? 'ok' : 'bad'}">${s.ok ? 'ok' : 'FAILED'}</span></h2>
<p>${(s.ms / 1000).toFixed(1)} s in all.</p>
<table><tr><th>file</th><th>runs</th><th>failed</th><th>mean run ms</th><th>mean / max ms to converge after a heal</th></tr>${Object.entries(s.per_file)
        .map(([f, p]) => `<tr><td>${esc(f)}</td><td>${p.runs}</td><td>${p.failed}</td><td>${p.mean_ms}</td><td>${p.mean_converge_ms ?? '–'} / ${p.max_converge_ms ?? '–'}</td></tr>`)
        .join('')}</table>
${s.failures
  .map(
    (f) =>
      `<h3>${esc(f.file)} seed ${f.seed}</h3><ul class="bad">${f.errors.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>` +
      (f.minimal_schedule ? `<p>Minimal failing schedule (${f.minimal_schedule.length} of ${f.schedule.length} faults, ${f.shrink?.tries} replays):</p><ol>${f.minimal_schedule.map((x) => `<li><code>${esc(describeFault(x))}</code></li>`).join('')}</ol>` : '') +
      (f.divergence.length ? `<pre>${esc(JSON.stringify(f.divergence, null, 1).slice(0, 4000))}</pre>` : ''),
  )
  .join('')}</section>`
    : '';
  const sections = opts.runs.map((r, i) => runSection(`${r.file}${r.report.seed !== undefined ? ` — seed ${r.report.seed}` : ''}`, r.report, i)).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(opts.title)}</title>
<style>${css}
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:980px;color:#222}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em} .ok{color:#187a2f} .bad{color:#b3261e}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:2px 6px;text-align:right} td:first-child{text-align:left}
.note{color:#666} .dag{overflow-x:auto;border:1px solid #eee} .dag line{stroke:#999;stroke-width:1}
circle.msg{fill:#4a7fd4} circle.state{fill:#e0a030} circle.soft_failed{fill:#fff;stroke:#b3261e;stroke-width:2} circle.rejected{fill:#b3261e} circle.outlier{fill:#ccc}
.timeline text{font-size:11px} .timeline .lbl{fill:#555} .timeline .tick{fill:#888}
rect.f-partition{fill:#d9534f} rect.f-flap{fill:#f0ad4e} rect.f-link{fill:#5bc0de} rect.f-crash{fill:#333} rect.f-pause{fill:#9b59b6} rect.f-wipe{fill:#000}
line.heal{stroke:#187a2f;stroke-dasharray:3 2}
</style>
<script>${js}</script>
<script>
const palette=['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf'];
function plot(el,title,t,names,series,extra){
  const data=[t.map(x=>x/1000),...series];
  const s=[{label:'s'},...names.map((n,i)=>({label:n,stroke:palette[i%palette.length],width:1.5,spanGaps:false}))];
  if(extra){data.push(extra.values);s.push(extra.series);}
  new uPlot({width:900,height:220,title,series:s,axes:[{label:'seconds'},{size:80}],scales:{x:{time:false}}},data,document.getElementById(el));
}
function charts(i,d){
  const many=d.servers.length>12;
  // With many servers one line each is unreadable: show min / max / mean instead.
  const agg=(rows)=>{const out=[[],[],[]];d.t.forEach((_,k)=>{const v=rows.map(r=>r[k]).filter(x=>x!=null);out[0].push(v.length?Math.min(...v):null);out[1].push(v.length?Math.max(...v):null);out[2].push(v.length?v.reduce((a,b)=>a+b,0)/v.length:null);});return out;};
  const pick=(rows)=>many?{names:['min','max','mean'],series:agg(rows)}:{names:d.servers,series:rows};
  const ev=pick(d.events);
  plot('events-'+i,'accepted events (green band: all rooms agree)',d.t,ev.names,ev.series,{values:d.converged.map((c,k)=>c?Math.max(0,...d.events.map(r=>r[k]??0)):null),series:{label:'agreed',stroke:'rgba(24,122,47,.25)',width:8,points:{show:false}}});
  const w=pick(d.width); plot('width-'+i,'forward extremities',d.t,w.names,w.series);
  const b=pick(d.bytes); plot('bytes-'+i,'bytes sent',d.t,b.names,b.series);
  const o=pick(d.outbox); plot('outbox-'+i,'outbox entries',d.t,o.names,o.series);
}
</script></head><body>
<h1>${esc(opts.title)}</h1>
${summary}
${sections}
</body></html>
`;
}
