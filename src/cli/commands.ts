import { canonicalJson } from '../core/canonical-json.ts';
import { type ReadInput, parseFlags } from './io.ts';

export interface Command {
  args: string;
  summary: string;
  run(argv: string[], readInput: ReadInput): Promise<string>;
}

export const COMMANDS: Record<string, Command> = {
  'canonical-json': {
    args: '',
    summary: 'any JSON value -> its canonical JSON text',
    async run(argv, readInput) {
      parseFlags(argv, {});
      return canonicalJson(await readInput());
    },
  },
};
