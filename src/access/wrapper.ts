import { randomBytes } from 'node:crypto';

/**
 * Every command pinacled starts in a pod runs under this wrapper (POSIX sh, so busybox and
 * Debian images both have what it needs: sh, setsid, sleep, kill, cat, rm).
 *
 * - The command gets a session of its own (setsid; a TTY exec is one already, since the engine
 *   makes the exec a session leader with the PTY as its controlling terminal, which setsid
 *   would take away), so "everything it started" is "every process of that session".
 * - Its session id and the watchdog's pid go to a pid file under /tmp; the daemon's kill
 *   (killScript) reads it.
 * - A watchdog in a session of its own kills the session at the deadline even when the daemon
 *   that started it is gone: a crashed daemon leaves nothing running forever. The daemon kills
 *   at the deadline itself (and reports timedOut); the watchdog's deadline is a few seconds later.
 * - The wrapper exits with the command's status and takes its watchdog with it.
 * - Limits (not yet in the README): a process that makes a session of its own (setsid,
 *   daemons) leaves the command's session and is not killed; killed processes whose parent
 *   died too are reaped by the pod's PID 1 (tini in pinacled's images; a PID 1 that does not
 *   reap, like `sleep`, leaves zombies, which hold no resources but a pid).
 *
 * stdin goes through fd 3: sh gives a background job /dev/null for stdin, and busybox ash
 * does so even with an explicit `<&0` (seen); `<&3` from a copy of fd 0 keeps it.
 */
const WRAPPER = [
  'f=$1; t=$2; tty=$3; shift 3',
  'if [ "$tty" = 1 ]; then p=$$; else exec 3<&0; setsid "$@" <&3 3<&- & p=$!; exec 3<&-; fi',
  // The watchdog: its own session (setsid; it is not a group leader, so setsid does not fork
  // and $! is its pid), so killing it kills its sleep too.
  `setsid sh -c 'sleep "$1"; ${killSession('$2')}' pinacled-watchdog "$t" "$p" </dev/null >/dev/null 2>&1 & w=$!`,
  'echo "$p $w" > "$f" 2>/dev/null',
  'if [ "$tty" = 1 ]; then "$@"; rc=$?; else wait "$p" 2>/dev/null; rc=$?; fi',
  'kill -KILL -"$w" 2>/dev/null; rm -f "$f"',
  'exit "$rc"',
].join('\n');

/**
 * Kills every process of session `$sid` (a shell expression): its process group first (the
 * usual case, one signal), then whatever started a group of its own, found in /proc
 * (field 6 of /proc/PID/stat is the session id; gVisor reports it like Linux). Twice, for
 * processes forked while the first pass ran.
 */
function killSession(sid: string): string {
  const scan = `for s in /proc/[0-9]*/stat; do { read -r a b c d e g r < "$s"; } 2>/dev/null || continue; [ "$g" = ${sid} ] && kill -KILL "$a" 2>/dev/null; done`;
  return `kill -KILL -${sid} 2>/dev/null; ${scan}; ${scan}`;
}

/** Seconds the in-pod watchdog waits beyond the daemon's own deadline. */
export const WATCHDOG_GRACE_S = 5;

export interface Wrapped {
  cmd: string[];
  /** The pid file inside the pod. */
  pidFile: string;
}

/** The command line that runs `command` under the wrapper with an in-pod deadline. */
export function wrap(command: string[], o: { deadlineS: number; tty: boolean }): Wrapped {
  const pidFile = `/tmp/.pinacled-exec-${randomBytes(8).toString('hex')}`;
  const deadline = String(Math.ceil(o.deadlineS + WATCHDOG_GRACE_S));
  return { pidFile, cmd: ['/bin/sh', '-c', WRAPPER, 'pinacled-exec', pidFile, deadline, o.tty ? '1' : '0', ...command] };
}

/** The command line that kills what a wrapped command started (run as the same user). */
export function killScript(pidFile: string): string[] {
  return ['/bin/sh', '-c', `{ read -r p w < "$1"; } 2>/dev/null || exit 0; [ -n "$p" ] || exit 0; ${killSession('"$p"')}; kill -KILL -"$w" 2>/dev/null; rm -f "$1"`, 'pinacled-kill', pidFile];
}
