import { parseJson } from '../core/canonical-json.ts';
import type { JsonValue } from '../core/json.ts';

/** Bad arguments or input: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Reads all of stdin as UTF-8 and parses it as JSON. */
export async function readStdin(): Promise<JsonValue> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new UsageError('expected JSON on stdin, got nothing');
  return parseJson(text);
}

export type ReadInput = () => Promise<JsonValue>;

/** Parses `--name value` flags against an allow-list; every listed flag is required unless optional. */
export function parseFlags(
  argv: string[],
  spec: { required?: string[]; optional?: string[] },
): Record<string, string> {
  const allowed = new Set([...(spec.required ?? []), ...(spec.optional ?? [])]);
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let name: string;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      name = arg.slice(2, eq);
      value = arg.slice(eq + 1);
    } else if (arg.startsWith('--')) {
      name = arg.slice(2);
      value = argv[++i];
    } else {
      throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    }
    if (!allowed.has(name)) throw new UsageError(`unknown option --${name}`);
    if (value === undefined) throw new UsageError(`option --${name} needs a value`);
    if (name in out) throw new UsageError(`option --${name} given twice`);
    out[name] = value;
  }
  for (const name of spec.required ?? []) {
    if (!(name in out)) throw new UsageError(`missing required option --${name}`);
  }
  return out;
}
