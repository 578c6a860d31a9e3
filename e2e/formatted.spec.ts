/**
 * Rich text from other Matrix clients: `m.room.message` with `format:
 * "org.matrix.custom.html"` and a `formatted_body` renders through the
 * sanitizer (src/ui/html.ts, DOMPurify in the page): the spec's markup
 * survives, hostile markup comes out harmless and never runs.
 *
 * Hearth's composer sends plain bodies only, so the tests speak to the tab's
 * homeserver worker the way the page does, over Comlink's wire protocol,
 * and send what Element would: a `sendMessage` with an `html` rendition.
 */
import { type Browser, type BrowserContext, type Page, expect, test } from '@playwright/test';
import { createRoom, invite, onboard } from './app-helpers.ts';

/** Gossip is fast, but a retry through the outbox or a catch-up can take a while. */
const ARRIVAL = { timeout: 45_000 };

declare global {
  interface Window {
    __pwned?: unknown;
    __workers?: Worker[];
    __call?: (method: string, ...args: unknown[]) => Promise<unknown>;
  }
}

/**
 * Before the app loads: keeps a handle on the workers it starts and adds `__call`, one
 * Comlink APPLY to the homeserver worker (answers to other IDs are the app's own).
 */
function captureWorker(): void {
  const Native = window.Worker;
  const workers: Worker[] = [];
  window.__workers = workers;
  window.Worker = class extends Native {
    constructor(url: string | URL, opts?: WorkerOptions) {
      super(url, opts);
      workers.push(this);
    }
  };
  window.__call = (method, ...args) =>
    new Promise((resolve, reject) => {
      const worker = workers[0];
      if (!worker) return reject(new Error('no worker yet'));
      const id = `e2e-${Math.random().toString(36).slice(2)}`;
      const onMessage = (ev: MessageEvent) => {
        const data = ev.data as { id?: string; type?: string; value?: unknown } | undefined;
        if (data?.id !== id) return;
        worker.removeEventListener('message', onMessage);
        if (data.type === 'HANDLER') reject(new Error(JSON.stringify(data.value)));
        else resolve(data.value);
      };
      worker.addEventListener('message', onMessage);
      worker.postMessage({ id, type: 'APPLY', path: [method], argumentList: args.map((value) => ({ type: 'RAW', value })) });
    });
}

async function call<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([m, a]) => window.__call!(m, ...a) as Promise<T>, [method, args] as const);
}

async function roomId(page: Page, name: string): Promise<string> {
  const rooms = await call<{ roomId: string; name: string }[]>(page, 'rooms');
  const room = rooms.find((r) => r.name === name);
  if (!room) throw new Error(`no room ${name}`);
  return room.roomId;
}

/** What another Matrix client sends: a plain body and its HTML rendition. Returns the event ID. */
function sendHtml(page: Page, room: string, body: string, html: string): Promise<string> {
  return call<string>(page, 'sendMessage', room, body, { html });
}

function bodyOf(page: Page, eventId: string) {
  return page.getByRole('log', { name: 'Timeline' }).locator(`[data-event-id="${eventId}"] .body`);
}

/** The rendered body's markup, without the " (edited)" marker. */
function innerHtml(page: Page, eventId: string): Promise<string> {
  return bodyOf(page, eventId).evaluate((el) => el.innerHTML);
}

const ALLOWED_TAGS = new Set(
  'font del h1 h2 h3 h4 h5 h6 blockquote p a ul ol sup sub li b i u strong em s code hr br div table thead tbody tr th td caption pre span img details summary'.split(
    ' ',
  ),
);

/** Everything under the rendered body that could run or restyle the page; empty when harmless. */
function hazards(page: Page, eventId: string): Promise<string[]> {
  return bodyOf(page, eventId).evaluate((root, allowed) => {
    const found: string[] = [];
    for (const el of root.querySelectorAll('*')) {
      const tag = el.localName;
      if (!allowed.includes(tag)) found.push(`tag ${tag}`);
      for (const { name, value } of el.attributes) {
        if (name === 'href' && !/^(https?|ftp|mailto|magnet):/i.test(value)) found.push(`href ${value}`);
        else if (name === 'src' && !(tag === 'img' && value.startsWith('blob:'))) found.push(`src ${value}`);
        else if (name === 'style' && !/^((background-)?color: rgb\(\d+, \d+, \d+\);\s*)+$/.test(value)) found.push(`style ${value}`);
        else if (!['href', 'src', 'style', 'target', 'rel', 'name', 'start', 'class', 'alt', 'title', 'width', 'height'].includes(name)) {
          found.push(`attribute ${name}`);
        }
      }
      if (tag === 'a' && el.hasAttribute('href') && (el.getAttribute('target') !== '_blank' || el.getAttribute('rel') !== 'noopener noreferrer')) {
        found.push('link without target=_blank rel=noopener noreferrer');
      }
    }
    return found;
  }, [...ALLOWED_TAGS]);
}

/** [name, formatted_body, the rendered body's innerHTML] */
const HOSTILE: [string, string, string][] = [
  ['script tag', '<script>window.__pwned = "script"</script>after script', 'after script'],
  ['img onerror, not mxc', '<img src="x" onerror="window.__pwned = \'onerror\'" alt="pic">', 'pic'],
  ['img onerror, mxc', '<img src="mxc://nowhere.invalid/abc" onerror="window.__pwned = \'mxc onerror\'" alt="m">', '<span class="inline-image-alt">m</span>'],
  ['img from the web', '<img src="https://tracker.example/p.png" alt="tracked">', 'tracked'],
  ['javascript: href', '<a href="javascript:window.__pwned = \'href\'">click</a>', '<a>click</a>'],
  ['javascript: href, spaced and cased', '<a href=" JaVa&#x09;ScRiPt:window.__pwned = 1">click2</a>', '<a>click2</a>'],
  ['data: href', '<a href="data:text/html,<script>alert(1)</script>">data</a>', '<a>data</a>'],
  ['relative href', '<a href="/#/settings">rel</a>', '<a>rel</a>'],
  ['style and event attributes', '<p style="position:fixed;inset:0" onclick="window.__pwned = \'onclick\'" id="x" class="y">styled</p>', '<p>styled</p>'],
  ['iframe', '<iframe src="javascript:window.__pwned = \'iframe\'"></iframe>after iframe', 'after iframe'],
  ['iframe srcdoc', '<iframe srcdoc="<script>parent.__pwned = 1</script>"></iframe>srcdoc', 'srcdoc'],
  ['svg', '<svg onload="window.__pwned = \'svg\'"><script>window.__pwned = 1</script><image href="x" onerror="window.__pwned = 1"/></svg>after svg', 'after svg'],
  ['math mXSS', '<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned = \'mxss\'">math', 'math mXSS'],
  ['noscript mXSS', '<noscript><p title="</noscript><img src=x onerror=window.__pwned=\'noscript\'>">ns', '<p>ns</p>'],
  ['style tag', '<style>body { display: none }</style>after style', 'after style'],
  ['form and input', '<form action="javascript:x"><input autofocus onfocus="window.__pwned = \'focus\'"></form>after form', 'after form'],
  ['object, embed, base, meta', '<object data="javascript:x"></object><embed src="x"><base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=javascript:x">after meta', 'after meta'],
  ['details ontoggle', '<details open ontoggle="window.__pwned = \'toggle\'"><summary>s</summary>d</details>', '<details><summary>s</summary>d</details>'],
  ['colour smuggling css', '<span data-mx-color="#ff0000;background:url(x)" style="color:red">c</span>', '<span>c</span>'],
  ['colour named, not hex', '<font color="red">n</font>', '<font>n</font>'],
  ['link target and rel forced', '<a href="https://example.org/" target="_self" rel="opener">ok</a>', '<a href="https://example.org/" target="_blank" rel="noopener noreferrer">ok</a>'],
  ['code class other than language-*', '<code class="hljs language-ts visually-hidden">x</code>', '<code class="language-ts">x</code>'],
  [
    'reply fallback, nested',
    '<mx-reply><blockquote><a href="https://matrix.to/#/!r:hs/$e">In reply to</a> quoted<mx-reply>nested <b>quote</b></mx-reply></blockquote></mx-reply>the reply',
    'the reply',
  ],
  ['only hostile: the plain body shows instead', '<script>window.__pwned = "only"</script>', 'plain fallback'],
];

const ALLOWED: [string, string, string][] = [
  ['bold and italics', '<strong>bold</strong> and <em>it</em>, <b>b</b> <i>i</i> <u>u</u> <s>s</s> <del>d</del>', '<strong>bold</strong> and <em>it</em>, <b>b</b> <i>i</i> <u>u</u> <s>s</s> <del>d</del>'],
  ['links', '<a href="https://example.org/a?b=1#c">web</a> <a href="mailto:a@example.org">mail</a>', '<a href="https://example.org/a?b=1#c" target="_blank" rel="noopener noreferrer">web</a> <a href="mailto:a@example.org" target="_blank" rel="noopener noreferrer">mail</a>'],
  ['code block', '<pre><code class="language-js">if (a &lt; b) { x(); }\n</code></pre>', '<pre><code class="language-js">if (a &lt; b) { x(); }\n</code></pre>'],
  ['lists', '<ul><li>one</li><li>two</li></ul><ol start="3"><li>three</li></ol>', '<ul><li>one</li><li>two</li></ul><ol start="3"><li>three</li></ol>'],
  ['quote, heading, sup, sub, hr', '<h3>Title</h3><blockquote>q</blockquote>x<sup>2</sup>y<sub>i</sub><hr>end', '<h3>Title</h3><blockquote>q</blockquote>x<sup>2</sup>y<sub>i</sub><hr>end'],
  ['table', '<table><caption>c</caption><thead><tr><th>h</th></tr></thead><tbody><tr><td>d</td></tr></tbody></table>', '<table><caption>c</caption><thead><tr><th>h</th></tr></thead><tbody><tr><td>d</td></tr></tbody></table>'],
  ['colours', '<span data-mx-color="#ff0000" data-mx-bg-color="#00ff00">red</span> <font color="#0000ff">blue</font>', '<span style="color: rgb(255, 0, 0); background-color: rgb(0, 255, 0);">red</span> <font style="color: rgb(0, 0, 255);">blue</font>'],
  ['paragraphs and breaks', '<p>line<br>two</p><div>div</div>', '<p>line<br>two</p><div>div</div>'],
  ['spoiler-free details', '<details><summary>more</summary>hidden</details>', '<details><summary>more</summary>hidden</details>'],
];

async function withWorker(browser: Browser, name: string): Promise<{ context: BrowserContext; page: Page; id: string }> {
  const context = await browser.newContext();
  await context.addInitScript(captureWorker);
  const page = await context.newPage();
  const id = await onboard(page, name);
  return { context, page, id };
}

test.describe('formatted messages', () => {
  test.setTimeout(180_000);

  test('hostile markup comes out harmless and allowed markup survives', async ({ browser }) => {
    const { context, page } = await withWorker(browser, 'alice');
    await createRoom(page, 'Markup');
    const room = await roomId(page, 'Markup');

    const sent: [string, string, string][] = [];
    for (const [name, html, want] of [...HOSTILE, ...ALLOWED]) {
      sent.push([name, await sendHtml(page, room, name === HOSTILE.at(-1)![0] ? 'plain fallback' : name, html), want]);
    }
    // Images load their bytes through the worker; let any stray handler have its chance.
    await expect(bodyOf(page, sent.at(-1)![1])).toBeVisible(ARRIVAL);
    await page.waitForTimeout(500);
    const got: [string, string[], string][] = [];
    for (const [name, eventId] of sent) {
      await expect(bodyOf(page, eventId), name).toBeVisible();
      got.push([name, await hazards(page, eventId), await innerHtml(page, eventId)]);
    }
    expect(got).toEqual(sent.map(([name, , want]) => [name, [], want]));
    expect(await page.evaluate(() => window.__pwned)).toBeUndefined();

    // An inline mxc:// image shows the worker's bytes, never the mxc URI.
    const png = await page.evaluate(async () => {
      const canvas = new OffscreenCanvas(8, 8);
      canvas.getContext('2d')!.fillRect(0, 0, 8, 8);
      return new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
    });
    const mxc = await call<string>(page, 'uploadMedia', png, 'image/png');
    const withImage = await sendHtml(page, room, 'an image', `<p>look: <img src="${mxc}" alt="square" width="8" height="8"></p>`);
    const img = bodyOf(page, withImage).locator('img[alt="square"]');
    await expect(img).toBeVisible();
    await expect(img).toHaveAttribute('src', /^blob:/);
    expect(await hazards(page, withImage)).toEqual([]);
    await context.close();
  });

  test("another person's formatted message renders as HTML there, and a hostile one does not run", async ({ browser }) => {
    const alice = await withWorker(browser, 'alice');
    const bob = await withWorker(browser, 'bob');
    for (const p of [alice, bob]) await expect(p.page.getByText(/relay connected/)).toBeVisible({ timeout: 30_000 });
    await createRoom(alice.page, 'Rich');
    await invite(alice, bob, 'Rich');
    const room = await roomId(bob.page, 'Rich');

    const rich = await sendHtml(bob.page, room, 'Hello **world**', 'Hello <strong>world</strong>, see <a href="https://example.org">this</a>');
    const hostile = await sendHtml(bob.page, room, 'hostile', '<img src=x onerror="window.__pwned = 1" alt="x"><script>window.__pwned = 2</script><b onmouseover="window.__pwned = 3">hover</b>');

    const body = bodyOf(alice.page, rich);
    await expect(body).toBeVisible(ARRIVAL);
    await expect(body.locator('strong')).toHaveText('world');
    await expect(body.getByRole('link', { name: 'this' })).toHaveAttribute('href', 'https://example.org');
    await expect(body).toHaveText('Hello world, see this');

    await expect(bodyOf(alice.page, hostile)).toBeVisible(ARRIVAL);
    await bodyOf(alice.page, hostile).locator('b').hover();
    await alice.page.waitForTimeout(500);
    expect(await hazards(alice.page, hostile)).toEqual([]);
    expect(await alice.page.evaluate(() => window.__pwned)).toBeUndefined();
    await expect(bodyOf(alice.page, hostile)).toHaveText('xhover');

    await alice.context.close();
    await bob.context.close();
  });
});
