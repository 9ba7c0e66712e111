/** Summary statistics over samples. Nearest-rank percentiles: a reported p95 is a real sample. */

export function quantile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function median(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** { n, min, median, p95, p99, max, mean } of a list of numbers (null fields when empty). */
export function summarize(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : null;
  return {
    n: s.length,
    min: s[0] ?? null,
    median: median(s),
    p95: quantile(s, 0.95),
    p99: quantile(s, 0.99),
    max: s[s.length - 1] ?? null,
    mean,
  };
}

export const ratio = (a, b) => (a == null || b == null || b === 0 ? null : a / b);

/** Milliseconds since `t0` (a process.hrtime.bigint() value). */
export const msSince = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

export const now = () => process.hrtime.bigint();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Times an async function: returns [result, milliseconds]. */
export async function timed(fn) {
  const t0 = now();
  const r = await fn();
  return [r, msSince(t0)];
}

/** Runs `fn(i)` for i in [0, total) with at most `concurrency` in flight; returns results in order. */
export async function pool(total, concurrency, fn) {
  const out = new Array(total);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return out;
}
