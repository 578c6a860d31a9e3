/** Command-line flags of the soak commands (bench/crash-soak.ts, bench/browser-crash-soak.ts). */

/** `--name N`: a whole number, or undefined when the flag is absent; anything else is refused. */
export function wholeNumberFlag(name: string, argv: readonly string[] = process.argv): number | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = Number(argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${name} needs a whole number, got ${JSON.stringify(argv[i + 1])}`);
  return v;
}
