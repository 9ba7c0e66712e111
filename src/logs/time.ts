/**
 * Timestamps of log lines. The engine writes RFC 3339 with up to nine fraction digits and trims
 * trailing zeros (Go's RFC3339Nano: `...:05.1Z`, `...:05Z`), so its strings do not compare
 * lexicographically. Internally every timestamp is normalized to a fixed-width UTC form
 * (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`) that does.
 */

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;
const UNIX = /^(\d{1,12})(?:\.(\d{1,9}))?$/;
const DURATION = /^(\d{1,9})(s|m|h|d)$/;
const UNIT_S = { s: 1, m: 60, h: 3600, d: 86400 } as const;

function fromEpoch(seconds: number, frac: string): string {
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return `${base}.${frac.padEnd(9, '0')}Z`;
}

/** RFC 3339 (any offset) -> normalized, or null when it is not RFC 3339. */
export function normTs(ts: string): string | null {
  const m = RFC3339.exec(ts);
  if (!m) return null;
  const [, date, time, frac = '', zone] = m as unknown as [string, string, string, string | undefined, string];
  if (zone === 'Z' || zone === 'z') return `${date}T${time}.${frac.padEnd(9, '0')}Z`;
  const ms = Date.parse(`${date}T${time}${zone}`);
  if (Number.isNaN(ms)) return null;
  return fromEpoch(Math.floor(ms / 1000), frac);
}

/**
 * A `since`/`until` query value: RFC 3339, Unix seconds (`1700000000.5`), or a duration back
 * from now (`90s`, `10m`, `2h`, `1d`), as `docker logs` accepts. Returns null when invalid.
 */
export function parseTimeParam(value: string, now: Date = new Date()): string | null {
  const v = value.trim();
  const d = DURATION.exec(v);
  if (d) {
    const ms = now.getTime() - Number(d[1]) * UNIT_S[d[2] as keyof typeof UNIT_S] * 1000;
    // A duration reaching back before 1970 (`999999999d`) names no time the engine can take.
    if (ms < 0) return null;
    return fromEpoch(Math.floor(ms / 1000), String((ms % 1000) * 1_000_000).padStart(9, '0'));
  }
  const u = UNIX.exec(v);
  if (u) return fromEpoch(Number(u[1]), u[2] ?? '');
  return normTs(v);
}

/** Normalized -> the engine API's `since`/`until` form: Unix seconds with nine fraction digits. */
export function toEngineSeconds(norm: string): string {
  const seconds = Math.floor(Date.parse(`${norm.slice(0, 19)}Z`) / 1000);
  return `${seconds}.${norm.slice(20, 29)}`;
}

/** Moves a normalized timestamp by whole seconds (the fraction is kept). */
export function shiftSeconds(norm: string, deltaS: number): string {
  const seconds = Math.floor(Date.parse(`${norm.slice(0, 19)}Z`) / 1000) + deltaS;
  return fromEpoch(Math.max(0, seconds), norm.slice(20, 29));
}
