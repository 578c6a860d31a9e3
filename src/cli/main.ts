/**
 * `hearth <command>`: the conformance CLI. Every command reads JSON on stdin
 * and writes JSON on stdout (exit 0); malformed input or arguments exit 2 with
 * a one-line message on stderr saying what is wrong.
 */
import { COMMANDS } from './commands.ts';
import { UsageError, readStdin } from './io.ts';

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(await usage());
    return name ? 0 : 2;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    process.stderr.write(`hearth: unknown command ${JSON.stringify(name)}; run 'hearth --help' for the list\n`);
    return 2;
  }
  try {
    const command = typeof entry === 'function' ? await entry() : entry;
    if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) {
      process.stdout.write(command.help ?? `usage: hearth ${name} ${command.args}\n  ${command.summary}\n`);
      return 0;
    }
    const result = await command.run(rest, readStdin);
    const { output, exitCode } = typeof result === 'string' ? { output: result, exitCode: 0 } : result;
    process.stdout.write(output.endsWith('\n') ? output : `${output}\n`);
    return exitCode;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`hearth ${name}: ${oneLine(message)}\n`);
    return err instanceof UsageError || isInputError(err) ? 2 : 1;
  }
}

/** Every error caused by the caller's input or arguments exits 2. */
function isInputError(err: unknown): boolean {
  return err instanceof Error && 'code' in err;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').slice(0, 2000);
}

async function usage(): Promise<string> {
  const lines: string[] = [];
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const c = typeof entry === 'function' ? await entry() : entry;
    lines.push(`  hearth ${name} ${c.args}\n      ${c.summary}`);
  }
  return `usage: hearth <command> [options] < input.json\n\ncommands:\n${lines.join('\n')}\n\nSee docs/cli.md for examples.\n`;
}
