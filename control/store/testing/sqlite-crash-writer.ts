// Child process of the SQLite crash test: opens the store, then creates keys as fast as it can,
// printing each key to stdout only after its create has been acknowledged. Run until killed.
// argv: <db path> <round>
import { SqliteStore } from '../sqlite.js';

export function crashValue(round: number, i: number): string {
  // Sizes vary so that rows span pages and the WAL checkpoints now and then.
  return `v-${round}-${i}-${'x'.repeat((i * 7919) % 3000)}`;
}

async function main(): Promise<void> {
  const [path, roundArg] = process.argv.slice(2);
  if (!path || !roundArg) throw new Error('usage: sqlite-crash-writer <db path> <round>');
  const round = Number(roundArg);
  const store = new SqliteStore({ path });
  process.stdout.write('ready\n');
  for (let i = 0; ; i++) {
    const key = `/crash/${round}/${String(i).padStart(8, '0')}`;
    await store.create(key, crashValue(round, i));
    process.stdout.write(`${key}\n`); // pipes are synchronous on Linux: printed means handed over
  }
}

if (process.argv[1]?.endsWith('sqlite-crash-writer.js')) {
  main().catch(err => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
