import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsPkg from 'ajv-formats';

/**
 * Validates HTTP answers (and any value) against openapi.yaml with Ajv's JSON Schema 2020-12
 * dialect, which is the dialect of OpenAPI 3.1. Shared by the contract tests and the fuzzer.
 *
 * By default validation is *closed*: every object the daemon returns may carry only the fields
 * the document describes (see closeSchema), so a field added to a view without being documented
 * fails the contract. The published document itself stays open, so clients may keep ignoring
 * fields they do not know.
 */

// ajv-formats is CommonJS: the default import is module.exports, whose `default` is the plugin.
const addFormats = addFormatsPkg.default;

export type OpenApiDoc = Record<string, unknown>;
type Obj = Record<string, unknown>;

export interface Check {
  ok: boolean;
  errors: string[];
  /** operationId of the operation the answer was checked against, when one was found. */
  operationId?: string;
}

export interface ResponseOptions {
  /** The answer's Content-Type (parameters are ignored). Required when a status documents several media types. */
  contentType?: string;
  /** The answer's headers (lowercase names, as Node gives them): documented headers are checked. */
  headers?: Record<string, string | string[] | number | undefined>;
  /** Closed objects (default true): undocumented fields are errors. */
  closed?: boolean;
}

const DOC_ID = 'urn:pinacled:openapi';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** Top-level OpenAPI fields and OpenAPI-only schema keywords: annotations as far as Ajv goes. */
const OPENAPI_KEYWORDS = ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags', 'externalDocs', 'example', 'discriminator', 'xml'];

interface Ctx {
  doc: Obj;
  ajv: Ajv2020;
  compiled: Map<string, ValidateFunction>;
}

const contexts = new WeakMap<object, { open?: Ctx; closed?: Ctx }>();

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    allErrors: true,
    allowUnionTypes: true,
    // `then: { required: [image] }` names a property that the parent schema defines.
    strictRequired: false,
    // multipleOf: 0.01 must accept 0.29 (0.29 / 0.01 is 28.999999999999996 in floating point).
    multipleOfPrecision: 9,
  });
  addFormats(ajv);
  for (const keyword of OPENAPI_KEYWORDS) ajv.addKeyword({ keyword });
  return ajv;
}

function context(doc: OpenApiDoc, closed: boolean): Ctx {
  const slot = contexts.get(doc) ?? {};
  contexts.set(doc, slot);
  const key = closed ? 'closed' : 'open';
  const existing = slot[key];
  if (existing) return existing;
  const d = closed ? closedDocument(doc) : structuredClone(doc);
  const ajv = newAjv();
  ajv.addSchema(d, DOC_ID);
  const ctx: Ctx = { doc: d, ajv, compiled: new Map() };
  slot[key] = ctx;
  return ctx;
}

/** JSON pointer fragment (`#/a/b`) for path tokens, escaped for both JSON pointer and URI. */
export function pointer(...tokens: string[]): string {
  return `#${tokens.map((t) => `/${encodeURIComponent(t.replace(/~/g, '~0').replace(/\//g, '~1'))}`).join('')}`;
}

function resolvePointer(doc: Obj, ptr: string): unknown {
  let node: unknown = doc;
  for (const raw of ptr.replace(/^#\/?/, '').split('/').filter((s) => s !== '')) {
    const token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObj(node) || Array.isArray(node) ? (node as Obj)[token] : undefined;
  }
  return node;
}

/** Follows a local `$ref` (Reference Object) once; returns the target and its pointer. */
function deref(doc: Obj, node: unknown, ptr: string): { node: unknown; ptr: string } {
  if (isObj(node) && typeof node.$ref === 'string' && node.$ref.startsWith('#/')) {
    const target = node.$ref.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const p = pointer(...target);
    return { node: resolvePointer(doc, p), ptr: p };
  }
  return { node, ptr };
}

function formatErrors(errors: ErrorObject[] | null | undefined, what: string): string[] {
  return (errors ?? []).map((e) => {
    const extra = e.keyword === 'unevaluatedProperties' || e.keyword === 'additionalProperties' ? ` (${JSON.stringify(e.params)})` : '';
    return `${what}${e.instancePath || ''}: ${e.message ?? e.keyword}${extra} [schema ${e.schemaPath}]`;
  });
}

/** Validates `value` against the schema at `ptr` (a `#/...` pointer into the document). */
export function validateAt(doc: OpenApiDoc, ptr: string, value: unknown, opts: { closed?: boolean; what?: string } = {}): Check {
  const ctx = context(doc, opts.closed ?? true);
  let validate = ctx.compiled.get(ptr);
  if (!validate) {
    if (resolvePointer(ctx.doc, ptr) === undefined) return { ok: false, errors: [`no schema at ${ptr}`] };
    try {
      validate = ctx.ajv.compile({ $ref: `${DOC_ID}${ptr}` });
    } catch (err) {
      return { ok: false, errors: [`schema at ${ptr} does not compile: ${(err as Error).message}`] };
    }
    ctx.compiled.set(ptr, validate);
  }
  const ok = validate(value) as boolean;
  return { ok, errors: ok ? [] : formatErrors(validate.errors, opts.what ?? 'value') };
}

/** The document's path template serving a concrete path (`/v1/pods/p1` -> `/v1/pods/{id}`). */
export function matchPath(doc: OpenApiDoc, path: string): string | undefined {
  const bare = path.split('?')[0] ?? path;
  const paths = isObj(doc.paths) ? doc.paths : {};
  if (bare in paths) return bare;
  const templates = Object.keys(paths).sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  return templates.find((tpl) => {
    const re = new RegExp(`^${tpl.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+')}$`);
    return re.test(bare);
  });
}

const mediaType = (ct: string) => ct.split(';')[0]!.trim().toLowerCase();
const isJson = (mt: string) => mt === 'application/json' || mt.endsWith('+json');

/**
 * Checks one HTTP answer against the operation `method path` of the document: the status is
 * documented, the media type is one the status documents, the body validates against its schema
 * (no body when none is documented), and documented headers are present and valid when
 * `opts.headers` is given. `path` is a template (`/v1/pods/{id}`) or a concrete path; `body` is
 * the raw text or the parsed value.
 */
export function validateResponse(doc: OpenApiDoc, method: string, path: string, status: number, body: unknown, opts: ResponseOptions = {}): Check {
  const ctx = context(doc, opts.closed ?? true);
  const template = matchPath(ctx.doc, path);
  const m = method.toLowerCase();
  if (!template) return { ok: false, errors: [`no path in the document serves ${path}`] };
  const op = (ctx.doc.paths as Obj)[template] as Obj;
  const operation = op[m];
  if (!isObj(operation)) return { ok: false, errors: [`${method.toUpperCase()} ${template} is not in the document`] };
  const operationId = typeof operation.operationId === 'string' ? operation.operationId : `${m} ${template}`;
  const responses = isObj(operation.responses) ? operation.responses : {};
  const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in responses);
  if (!key) return { ok: false, operationId, errors: [`${operationId}: status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`] };
  const { node: response, ptr } = deref(ctx.doc, responses[key], pointer('paths', template, m, 'responses', key));
  if (!isObj(response)) return { ok: false, operationId, errors: [`${operationId}: response ${key} does not resolve`] };
  const errors: string[] = [];
  const what = `${operationId} ${status}`;

  const content = isObj(response.content) ? response.content : undefined;
  if (!content) {
    if (!(body === undefined || body === null || body === '')) errors.push(`${what}: a body was sent but none is documented`);
  } else {
    const types = Object.keys(content);
    let mt: string | undefined;
    if (opts.contentType) {
      mt = mediaType(opts.contentType);
      if (!(mt in content)) errors.push(`${what}: content type ${mt} is not documented (documented: ${types.join(', ')})`);
    } else if (types.length === 1) mt = types[0];
    else errors.push(`${what}: several media types are documented; pass opts.contentType`);
    if (mt && mt in content) {
      let value = body;
      if (isJson(mt) && typeof body === 'string') {
        try {
          value = JSON.parse(body);
        } catch {
          errors.push(`${what}: the body is not JSON`);
        }
      }
      const media = content[mt];
      if (!errors.length && isObj(media) && media.schema !== undefined) {
        errors.push(...validateAt(doc, `${ptr}/content/${encodeURIComponent(mt.replace(/~/g, '~0').replace(/\//g, '~1'))}/schema`, value, { closed: opts.closed ?? true, what: `${what} body` }).errors);
      }
    }
  }

  if (opts.headers && isObj(response.headers)) {
    for (const [name, raw] of Object.entries(response.headers)) {
      if (name.toLowerCase() === 'content-type') continue; // OpenAPI: ignored when listed
      const { node: header, ptr: hptr } = deref(ctx.doc, raw, `${ptr}/headers/${encodeURIComponent(name)}`);
      if (!isObj(header)) continue;
      const got = opts.headers[name.toLowerCase()];
      // `x-sent-for-codes` (code -> value): the header comes with exactly those codes, with that value.
      const byCode = header['x-sent-for-codes'];
      if (isObj(byCode)) {
        const code = problemCode(body);
        const want = code === undefined ? undefined : byCode[code];
        if (want === undefined && got !== undefined) errors.push(`${what}: header ${name} is sent with ${code}, which the document lists without it`);
        if (want !== undefined && String(got) !== String(want)) errors.push(`${what}: header ${name} is ${got === undefined ? 'missing' : `"${String(got)}"`} with ${code}; the document says ${String(want)}`);
        if (got === undefined) continue;
      }
      if (got === undefined) {
        if (header.required === true) errors.push(`${what}: required header ${name} is missing`);
        continue;
      }
      if (header.schema === undefined) continue;
      const text = Array.isArray(got) ? got.join(', ') : String(got);
      const schema = header.schema as Obj;
      const value = (schema.type === 'integer' || schema.type === 'number') && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
      errors.push(...validateAt(doc, `${hptr}/schema`, value, { closed: opts.closed ?? true, what: `${what} header ${name}` }).errors);
    }
  }
  return { ok: errors.length === 0, errors, operationId };
}

/** The `code` of a problem body (raw text or parsed), if it has one. */
function problemCode(body: unknown): string | undefined {
  let v = body;
  if (typeof body === 'string') {
    try {
      v = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  return isObj(v) && typeof v.code === 'string' ? v.code : undefined;
}

/** Every operation of the document: method (lowercase), path template, operation object. */
export function operations(doc: OpenApiDoc): { method: string; path: string; operation: Obj }[] {
  const out: { method: string; path: string; operation: Obj }[] = [];
  for (const [path, item] of Object.entries(isObj(doc.paths) ? doc.paths : {})) {
    if (!isObj(item)) continue;
    for (const method of HTTP_METHODS) if (isObj(item[method])) out.push({ method, path, operation: item[method] });
  }
  return out;
}

/**
 * The document with every schema that describes a whole value closed: object schemas get
 * `unevaluatedProperties: false` unless they say what extra fields may be, and a `$ref` used as
 * a value's schema is wrapped as `{ allOf: [ref], unevaluatedProperties: false }`. Component
 * roots and `allOf` members stay open, so composition (`allOf: [Pod] + secrets`) still works:
 * the composing schema is the one that closes. `if`/`then`/`else`/`not` and the like are
 * conditions, not descriptions of the value, and are left alone. `x-*` extensions are dropped.
 */
export function closedDocument(doc: OpenApiDoc): Obj {
  const d = structuredClone(doc) as Obj;
  const comps = isObj(d.components) ? d.components : {};
  // Decided on the original schemas, so closing one component does not change the answer for another.
  const isObjectRef = (ref: string) => {
    const target = ref.startsWith('#/') ? resolvePointer(doc, pointer(...ref.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~')))) : undefined;
    return isObj(target) && describesFields(target);
  };
  if (isObj(comps.schemas)) for (const k of Object.keys(comps.schemas)) comps.schemas[k] = closeSchema(comps.schemas[k], false, isObjectRef);
  // Schemas outside components.schemas sit under a `schema` key (media types, parameters, headers).
  const visitSchemas = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visitSchemas);
    if (!isObj(node)) return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'examples' || k === 'example') continue;
      if (k === 'schema') node[k] = closeSchema(v, true, isObjectRef);
      else visitSchemas(v);
    }
  };
  visitSchemas(d.paths);
  for (const [k, v] of Object.entries(comps)) if (k !== 'schemas') visitSchemas(v);
  return d;
}

/** An object schema that lists its fields; a bare `{ type: object }` means any object and stays open. */
const describesFields = (s: Obj) => s.type === 'object' && (s.properties !== undefined || s.allOf !== undefined);

/** See closedDocument. */
export function closeSchema(schema: unknown, close: boolean, isObjectRef: (ref: string) => boolean): unknown {
  if (!isObj(schema)) return schema;
  const out: Obj = {};
  for (const [k, v] of Object.entries(schema)) if (!k.startsWith('x-')) out[k] = v;
  const sub = (c: boolean) => (s: unknown) => closeSchema(s, c, isObjectRef);
  const each = (k: string, fn: (v: unknown) => unknown) => {
    if (isObj(out[k])) out[k] = Object.fromEntries(Object.entries(out[k]).map(([n, s]) => [n, fn(s)]));
  };
  const list = (k: string, fn: (v: unknown) => unknown) => {
    if (Array.isArray(out[k])) out[k] = (out[k] as unknown[]).map(fn);
  };
  each('properties', sub(true));
  each('patternProperties', sub(true));
  each('$defs', sub(false));
  for (const k of ['items', 'additionalProperties', 'unevaluatedProperties', 'unevaluatedItems']) {
    if (isObj(out[k])) out[k] = closeSchema(out[k], true, isObjectRef);
  }
  list('prefixItems', sub(true));
  list('anyOf', sub(true));
  list('oneOf', sub(true));
  list('allOf', sub(false));
  if (!close) return out;
  if (typeof out.$ref === 'string') {
    return isObjectRef(out.$ref) ? { type: 'object', allOf: [out], unevaluatedProperties: false } : out;
  }
  if (describesFields(out) && out.additionalProperties === undefined && out.unevaluatedProperties === undefined) {
    out.unevaluatedProperties = false;
  }
  return out;
}

/**
 * Every example of the document checked against its schema: media-type and parameter
 * `example`/`examples` (against their `schema`), and schema-level `examples`/`example`.
 */
export function checkExamples(doc: OpenApiDoc, closed = true): { count: number; errors: string[] } {
  const ctx = context(doc, closed);
  let count = 0;
  const errors: string[] = [];
  const walk = (node: unknown, ptr: string): void => {
    if (Array.isArray(node)) {
      for (const [i, n] of node.entries()) walk(n, `${ptr}/${i}`);
      return;
    }
    if (!isObj(node)) return;
    if (node.schema !== undefined) {
      const sptr = `${ptr}/schema`;
      if ('example' in node) {
        count++;
        errors.push(...validateAt(doc, sptr, node.example, { closed, what: `${ptr}/example` }).errors);
      }
      if (isObj(node.examples)) {
        for (const [name, ex] of Object.entries(node.examples)) {
          const { node: e } = deref(ctx.doc, ex, '');
          if (!isObj(e) || !('value' in e)) continue;
          count++;
          errors.push(...validateAt(doc, sptr, e.value, { closed, what: `${ptr}/examples/${name}` }).errors);
        }
      }
    } else {
      // A schema: `examples` is an array of values of that schema.
      if (Array.isArray(node.examples)) {
        node.examples.forEach((ex, i) => {
          count++;
          errors.push(...validateAt(doc, ptr, ex, { closed, what: `${ptr}/examples/${i}` }).errors);
        });
      }
      if ('example' in node && !('value' in node)) {
        count++;
        errors.push(...validateAt(doc, ptr, node.example, { closed, what: `${ptr}/example` }).errors);
      }
    }
    for (const [k, v] of Object.entries(node)) {
      if (['examples', 'example', 'enum', 'const', 'default', 'value'].includes(k)) continue;
      walk(v, `${ptr}/${encodeURIComponent(k.replace(/~/g, '~0').replace(/\//g, '~1'))}`);
    }
  };
  walk(ctx.doc, '#');
  return { count, errors };
}
