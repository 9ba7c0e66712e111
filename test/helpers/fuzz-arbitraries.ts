import fc from 'fast-check';

/**
 * fast-check arbitraries from the JSON Schemas of openapi.yaml (OpenAPI 3.1 = JSON Schema
 * 2020-12): values that mostly fit the schema, plus the usual ways clients get it wrong. The
 * generator follows $ref, properties/required/additionalProperties, items, enum/const, pattern,
 * lengths and ranges, anyOf/oneOf; conditionals (if/then/else, not) are ignored, so some
 * generated values break them, which is what a fuzzer wants.
 */
type Schema = Record<string, any>;

export function resolveRef(doc: Schema, s: Schema): Schema {
  let cur = s;
  for (let i = 0; i < 10 && typeof cur?.$ref === 'string'; i++) {
    const { $ref, ...rest } = cur;
    const target = ($ref as string).replace(/^#\//, '').split('/').reduce((n: any, k) => n?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    cur = { ...target, ...rest };
  }
  return cur;
}

const WEIRD_STRINGS = ['', ' ', '..', '../../etc/passwd', '%00', '\u0000', 'null', 'true', '0', '-1', '1e309', '__proto__', 'constructor', '😀', 'ß', 'A'.repeat(300), '<script>', "' OR 1=1 --", '${jndi:x}', '\r\nX-Injected: 1'];

export const weirdString = fc.oneof(fc.constantFrom(...WEIRD_STRINGS), fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }));

export function fromSchema(doc: Schema, raw: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!raw || depth > 6) return fc.jsonValue({ maxDepth: 2 });
  const s = resolveRef(doc, raw);
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  const alts = s.oneOf ?? s.anyOf;
  if (Array.isArray(alts) && alts.length) return fc.oneof(...alts.map((a: Schema) => fromSchema(doc, a, depth + 1)));
  if (Array.isArray(s.allOf) && s.allOf.length) {
    const merged = s.allOf.map((a: Schema) => resolveRef(doc, a)).reduce((acc: Schema, a: Schema) => ({ ...acc, ...a, properties: { ...acc.properties, ...a.properties }, required: [...(acc.required ?? []), ...(a.required ?? [])] }), {});
    const { allOf: _a, ...rest } = s;
    return fromSchema(doc, { ...merged, ...rest, properties: { ...merged.properties, ...rest.properties } }, depth + 1);
  }
  const type = Array.isArray(s.type) ? s.type[0] : s.type ?? (s.properties ? 'object' : undefined);
  switch (type) {
    case 'string': {
      if (s.pattern) {
        try {
          const re = new RegExp(s.pattern);
          const max = s.maxLength ?? 64;
          return fc.stringMatching(re).filter((x) => x.length <= max && x.length >= (s.minLength ?? 0));
        } catch {
          return weirdString;
        }
      }
      return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 40, 64) });
    }
    case 'integer': {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000);
      const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : 100_000);
      return fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31) });
    }
    case 'number': {
      const min = s.minimum ?? s.exclusiveMinimum ?? 0;
      const max = s.maximum ?? s.exclusiveMaximum ?? 1000;
      const step = s.multipleOf ?? 0.01;
      return fc.integer({ min: Math.ceil(min / step), max: Math.floor(max / step) }).map((n) => Math.round(n * step * 1e6) / 1e6);
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const item = fromSchema(doc, s.items, depth + 1);
      return fc.array(item, { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 4, 4) });
    }
    case 'object': {
      const props: Record<string, Schema> = s.properties ?? {};
      const required = new Set<string>(s.required ?? []);
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) shape[k] = fromSchema(doc, v, depth + 1);
      const known = Object.keys(shape).length
        ? fc.record(shape, { requiredKeys: Object.keys(shape).filter((k) => required.has(k)) })
        : fc.constant({} as Record<string, unknown>);
      if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        const keyArb = s.propertyNames?.pattern ? fc.stringMatching(new RegExp(s.propertyNames.pattern)).filter((k) => k.length <= 64) : fc.string({ maxLength: 20 });
        const extra = fc.dictionary(keyArb, fromSchema(doc, s.additionalProperties, depth + 1), { maxKeys: 4 });
        return fc.tuple(known, extra).map(([a, b]) => ({ ...b, ...a }));
      }
      return known;
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** The ways a client gets a body wrong, applied to a value that may be right. */
export function mutated(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const smuggle = fc.constantFrom(
    ['privileged', true],
    ['HostConfig', { Privileged: true, Binds: ['/:/host'] }],
    ['binds', ['/var/run/docker.sock:/var/run/docker.sock']],
    ['networkMode', 'host'],
    ['pidMode', 'host'],
    ['capAdd', ['SYS_ADMIN']],
    ['devices', ['/dev/mem']],
    ['runtime', 'runc'],
  );
  return fc.oneof(
    fc.tuple(valid, smuggle).map(([v, [k, x]]) => (isObj(v) ? { ...v, [k]: x } : v)),
    fc.tuple(valid, fc.nat()).map(([v, n]) => {
      if (!isObj(v)) return v;
      const keys = Object.keys(v);
      if (!keys.length) return v;
      const { [keys[n % keys.length]!]: _drop, ...rest } = v;
      return rest;
    }),
    fc.tuple(valid, fc.nat(), fc.jsonValue({ maxDepth: 2 })).map(([v, n, x]) => {
      if (!isObj(v)) return x;
      const keys = Object.keys(v);
      return keys.length ? { ...v, [keys[n % keys.length]!]: x } : x;
    }),
    fc.jsonValue({ maxDepth: 3 }),
  );
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
