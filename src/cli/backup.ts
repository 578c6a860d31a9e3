/**
 * `hearth export --data DIR --out FILE` and the import half of `hearth serve
 * --data DIR --import FILE`: the encrypted backup (src/server/backup) of a
 * `hearth serve` data directory. The passphrase comes from
 * HEARTH_BACKUP_PASSPHRASE or --passphrase-file (never a flag: command lines
 * are visible to every user of the machine). docs/data.md explains backing
 * up and moving.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { BackupError, type BackupMode, type ImportSummary, exportBackup, importBackup, retireStore, verifyBackup } from '../server/backup/backup.ts';
import type { Store } from '../server/store/types.ts';
import type { Command } from './commands.ts';
import { UsageError, parseFlags } from './io.ts';

export const PASSPHRASE_ENV = 'HEARTH_BACKUP_PASSPHRASE';

/** The passphrase from --passphrase-file (its first line) or the environment. */
export function readPassphrase(file: string | undefined): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`--passphrase-file: cannot read ${file} (${(e as Error).message})`);
    }
    const line = text.split(/\r?\n/)[0] ?? '';
    if (line === '') throw new UsageError(`--passphrase-file: ${file} is empty`);
    return line;
  }
  const env = process.env[PASSPHRASE_ENV];
  if (env === undefined || env === '') throw new UsageError(`give the backup passphrase in ${PASSPHRASE_ENV} or with --passphrase-file FILE`);
  return env;
}

/** A BackupError as the CLI's one-line message. */
function explain(e: unknown): never {
  if (e instanceof BackupError) throw new UsageError(e.message);
  throw e;
}

/** Imports the backup FILE into `store` (which must hold no homeserver); the file is read twice (check, then write). */
export async function importBackupFile(file: string, store: Store, passphrase: string): Promise<ImportSummary> {
  if (!existsSync(file)) throw new UsageError(`--import: no file ${file}`);
  return importBackup(() => createReadStream(file), store, { passphrase }).catch(explain);
}

export const exportCommand: Command = {
  args: '--data DIR --out FILE [--mode backup|move] [--to WHERE] [--media yes|no] [--passphrase-file F]',
  summary:
    `writes DIR's homeserver (not running) to FILE, encrypted with the passphrase in ${PASSPHRASE_ENV} or --passphrase-file; --mode move also retires DIR's copy (read-only, off the network); prints {"file","server_name","mode","bytes","counts"}`,
  async run(argv) {
    const f = parseFlags(argv, { required: ['data', 'out'], optional: ['mode', 'to', 'media', 'passphrase-file'] });
    const mode = (f.mode ?? 'backup') as BackupMode;
    if (mode !== 'backup' && mode !== 'move') throw new UsageError('--mode must be backup or move');
    if (f.to !== undefined && mode !== 'move') throw new UsageError('--to needs --mode move');
    if (f.media !== undefined && f.media !== 'yes' && f.media !== 'no') throw new UsageError('--media must be yes or no');
    const passphrase = readPassphrase(f['passphrase-file']);
    const out = resolve(f.out!);
    if (existsSync(out)) throw new UsageError(`--out: ${out} exists; choose a new file name`);
    if (!existsSync(f.data!)) throw new UsageError(`--data: no directory ${f.data}`);
    const { openSqliteStore } = await import('../server/store/sqlite-store.ts');
    // The directory's lock keeps a running server off it: the export is a consistent copy.
    const store = await openSqliteStore(f.data!);
    const partial = `${out}.partial`;
    try {
      const fh = await open(partial, 'wx');
      let bytes = 0;
      try {
        for await (const chunk of exportBackup(store, { passphrase, mode, media: f.media !== 'no' })) {
          await fh.write(chunk);
          bytes += chunk.length;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(partial, out);
      // Read back what was written, so a move never retires the old copy over an unreadable file.
      const summary = await verifyBackup(createReadStream(out), passphrase);
      if (mode === 'move') await retireStore(store, { ts: summary.manifest.created_ts, ...(f.to ? { to: f.to } : {}) });
      return JSON.stringify({ file: out, server_name: summary.manifest.server_name, mode, bytes, counts: summary.counts });
    } catch (e) {
      await rm(partial, { force: true });
      return explain(e);
    } finally {
      await store.close();
    }
  },
};
