import { z } from 'zod';
import { MAX_OPERATION_S } from '../limits.js';

/** Request shapes of the access routes (openapi.yaml describes the same). */

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** A user name (as useradd takes it) or uid[:gid]. */
const USER = /^(?:[a-z_][a-z0-9_-]{0,31}\$?|\d{1,10}(?::\d{1,10})?)$/;
/** stdin of a one-shot exec, in UTF-8 bytes. */
export const EXEC_STDIN_MAX_BYTES = 1024 * 1024;

const noNul = (s: string) => !s.includes('\0');

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine(noNul, 'must not contain NUL')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ..');

const commandSchema = z
  .array(z.string().max(128 * 1024).refine(noNul, 'must not contain NUL'))
  .min(1, 'must name a program')
  .max(4096)
  .refine((c) => (c[0] ?? '') !== '', 'the program name must not be empty');

export const execSchema = z.strictObject({
  command: commandSchema,
  env: z
    .record(z.string().regex(ENV_KEY, 'env keys must match [A-Za-z_][A-Za-z0-9_]*'), z.string().max(128 * 1024).refine(noNul, 'must not contain NUL'))
    .refine((r) => Object.keys(r).length <= 256, 'at most 256 entries')
    .optional(),
  workdir: absolutePath.optional(),
  user: z.string().regex(USER, 'must be a user name or uid[:gid]').optional(),
  timeoutS: z.number().int().min(1).max(MAX_OPERATION_S).optional(),
  stdin: z
    .string()
    .refine((s) => Buffer.byteLength(s) <= EXEC_STDIN_MAX_BYTES, `must be at most ${EXEC_STDIN_MAX_BYTES} bytes`)
    .optional(),
});

/** A terminal size, in character cells. */
const cells = z.number().int().min(1).max(1000);

/**
 * The first message of a streaming exec: the one-shot rules, with a TTY and its size instead of
 * `stdin` (which streams). `timeoutS` is the stream's deadline.
 */
export const execStreamStartSchema = execSchema
  .omit({ stdin: true })
  .extend({ tty: z.boolean().optional(), cols: cells.optional(), rows: cells.optional() })
  .refine((r) => r.tty === true || (r.cols === undefined && r.rows === undefined), { message: 'cols and rows need tty: true', path: ['tty'] })
  .refine((r) => (r.cols === undefined) === (r.rows === undefined), { message: 'give both cols and rows', path: ['cols'] });

/** Control messages of a streaming exec after the first (JSON text frames). */
export const execStreamControlSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('resize'), cols: cells, rows: cells }),
  z.strictObject({ type: z.literal('eof') }),
]);

export type ExecStreamStart = z.infer<typeof execStreamStartSchema>;
export type ExecStreamControl = z.infer<typeof execStreamControlSchema>;
