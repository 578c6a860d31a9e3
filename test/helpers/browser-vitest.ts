/**
 * Just enough of Vitest's API (describe, it, it.each, afterEach, expect) to
 * run a shared test suite inside a browser page, bundled with `vitest`
 * aliased to this module (e2e/store-suite-chromium.spec.ts runs the Store
 * acceptance suite on Chromium's own IndexedDB this way). `expect` is
 * Vitest's own (@vitest/expect on chai), so the suite's assertions mean the
 * same as under Node; `run` executes the collected tests one after another.
 */
import * as chai from 'chai';
import { JestAsymmetricMatchers, JestChaiExpect, JestExtend } from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

// biome-ignore lint/suspicious/noExplicitAny: Vitest's ExpectStatic, as chai builds it
export const expect: any = (value: unknown, message?: string) => chai.expect(value, message);
Object.assign(expect, chai.expect);

type Body = () => unknown;
interface Case {
  name: string;
  fn: Body;
  /** The afterEach hooks of every enclosing describe (arrays filled as the describes run). */
  after: Body[][];
}

const cases: Case[] = [];
const names: string[] = [];
const hooks: Body[][] = [[]];

export function describe(name: string, body: () => void): void {
  names.push(name);
  hooks.push([]);
  try {
    body();
  } finally {
    hooks.pop();
    names.pop();
  }
}

export function afterEach(fn: Body): void {
  hooks[hooks.length - 1]!.push(fn);
}

/** `%s` placeholders filled from the row, as Vitest's it.each does. */
function title(template: string, args: readonly unknown[]): string {
  let i = 0;
  return template.replace(/%[sdj]/g, () => String(args[i++]));
}

export function it(name: string, fn: Body): void {
  cases.push({ name: [...names, name].join(' > '), fn, after: hooks.slice() });
}
it.each =
  (table: readonly unknown[]) =>
  (name: string, fn: (...args: never[]) => unknown): void => {
    for (const row of table) {
      const args = Array.isArray(row) ? row : [row];
      it(title(name, args), () => fn(...(args as never[])));
    }
  };

export interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
  ms: number;
}

/** Runs every collected test in order (its afterEach hooks after it, pass or fail). */
export async function run(): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const c of cases) {
    const start = performance.now();
    let error: string | undefined;
    try {
      await c.fn();
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    for (const fn of c.after.flat()) {
      try {
        await fn();
      } catch (e) {
        error ??= `afterEach: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    out.push({ name: c.name, ok: error === undefined, ...(error !== undefined ? { error } : {}), ms: Math.round(performance.now() - start) });
  }
  return out;
}
