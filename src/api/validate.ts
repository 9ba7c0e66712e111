import type { z } from 'zod';
import { PinacledError } from '../errors.js';
import { zodFields } from './problem.js';

/** Parses a request part with its zod schema; failures are a 400 naming each failing field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, part: 'body' | 'query' | 'params'): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new PinacledError('PINACLED_ERR_VALIDATION', `The request ${part} is invalid`, {
    fields: zodFields(r.error, part === 'body' ? undefined : part),
  });
}
