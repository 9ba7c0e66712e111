import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const LOCK = '/tmp/pinacled-bench.lock';

/**
 * One bench run at a time on a host: each run removes every bench object by label at start
 * and end, which would pull the pods out from under a second run. A lock whose process is gone
 * is taken over.
 */
export function acquireLock() {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(LOCK, { force: true });
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(LOCK, 'utf8').trim());
      let alive = false;
      try {
        alive = readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('bench-lib/main.mjs');
      } catch {
        alive = false;
      }
      if (alive) throw new Error(`another bench run (pid ${pid}) is in progress; wait for it (lock ${LOCK})`);
      rmSync(LOCK, { force: true });
    }
  }
  throw new Error(`cannot take the lock ${LOCK}`);
}
