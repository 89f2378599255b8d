/**
 * fast-check arbitraries read from our TypeBox (JSON Schema) definitions, so the fuzz suites start
 * from values the server should accept and mutate them from there: a property over a schema then
 * follows the schema when it changes instead of a hand-written copy of it.
 *
 * Covers the subset schemas.ts and messaging-schemas.ts use: objects, arrays, strings with
 * patterns and lengths, integers, numbers, booleans, literals, unions and `Unknown`.
 */

import type { TSchema } from '@sinclair/typebox';
import fc from 'fast-check';

/** Long strings and arrays are the mutations' business; valid values stay small and quick. */
const MAX_VALID_STRING = 200;
const MAX_VALID_ARRAY = 8;

interface JsonSchema {
  type?: string;
  const?: unknown;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/**
 * Values valid per `schema` (within the size caps above). `hints` adds values by property name
 * that random generation would hardly ever hit (the current key id, a real account id), so the
 * server gets past its first check now and then.
 */
export function arbitraryFor(
  schema: TSchema,
  hints: Record<string, fc.Arbitrary<unknown>> = {},
): fc.Arbitrary<unknown> {
  return fromSchema(schema as JsonSchema, hints);
}

function fromSchema(
  schema: JsonSchema,
  hints: Record<string, fc.Arbitrary<unknown>>,
): fc.Arbitrary<unknown> {
  const recurse = (inner: JsonSchema) => fromSchema(inner, hints);
  if ('const' in schema) return fc.constant(schema.const);
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map(recurse));
  switch (schema.type) {
    case 'object': {
      const required = new Set(schema.required ?? []);
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, value] of Object.entries(schema.properties ?? {})) {
        const hint = hints[key];
        shape[key] = hint ? fc.oneof(hint, recurse(value)) : recurse(value);
      }
      return fc.record(shape, { requiredKeys: [...required] });
    }
    case 'array': {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.max(
        minLength,
        Math.min(schema.maxItems ?? MAX_VALID_ARRAY, MAX_VALID_ARRAY),
      );
      return fc.array(recurse(schema.items ?? {}), { minLength, maxLength });
    }
    case 'string':
      return stringFor(schema);
    case 'integer':
      return fc.integer({
        min: Math.max(schema.minimum ?? Number.MIN_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
        max: Math.min(schema.maximum ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      });
    case 'number':
      return fc.double({
        min: schema.minimum ?? -Number.MAX_VALUE,
        max: schema.maximum ?? Number.MAX_VALUE,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function stringFor(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.max(
    minLength,
    Math.min(schema.maxLength ?? MAX_VALID_STRING, MAX_VALID_STRING),
  );
  if (schema.pattern === undefined) return fc.string({ minLength, maxLength, unit: 'grapheme' });
  // `^[class]*$` with length bounds: put the bounds into the pattern, since filtering strings of
  // any length down to exactly 43 characters would almost never succeed.
  const repeated = /^\^(\[[^\]]+\])[*+]\$$/.exec(schema.pattern);
  const pattern = repeated ? `^${repeated[1]}{${minLength},${maxLength}}$` : schema.pattern;
  return fc
    .stringMatching(new RegExp(pattern))
    .filter((s) => s.length >= minLength && s.length <= maxLength);
}

/** Values a careless or hostile client sends where a field is expected. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    0,
    -0,
    -1,
    0.5,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    -(2 ** 53),
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    1e308,
    -1e308,
    5e-324,
    '',
    ' ',
    '0',
    'null',
    '\u0000',
    '\uD800',
    '\uFEFF',
    '../../etc/passwd',
    '__proto__',
    true,
    false,
    null,
    [],
    {},
    { __proto__: null, constructor: { prototype: 1 } },
  ),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 64 }),
  fc.constantFrom(1_000, 70_000, 200_000, 300_000).map((n) => 'A'.repeat(n)),
  fc.constantFrom(300, 2_000, 60_000).map((n) => new Array<number>(n).fill(1)),
  fc.integer({ min: 1, max: 2_000 }).map((depth) => {
    let nested: unknown = 1;
    for (let i = 0; i < depth; i++) nested = [nested];
    return nested;
  }),
);

type Mutation =
  | { kind: 'replace'; value: unknown }
  | { kind: 'delete' }
  | { kind: 'extra'; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: oddValue.map((value) => ({ kind: 'replace' as const, value })) },
  fc.constant({ kind: 'delete' as const }),
  fc
    .tuple(
      fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 't', 'id'), fc.string()),
      oddValue,
    )
    .map(([key, value]) => ({ kind: 'extra' as const, key, value })),
);

/**
 * A valid value from `valid` with one thing wrong somewhere inside: a field of the wrong type, at a
 * limit, huge or strange; a field missing; or a field too many. `path` picks where, child by
 * child (an index modulo the number of children).
 */
export function mutationOf(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc
    .tuple(valid, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), mutation)
    .map(([value, path, m]) => mutate(structuredClone(value), path, m));
}

function mutate(value: unknown, path: readonly number[], m: Mutation): unknown {
  if (value === null || typeof value !== 'object') return m.kind === 'replace' ? m.value : value;
  const container = value as Record<string, unknown>;
  const keys = Object.keys(container);
  const [step = 0, ...rest] = path;
  if (m.kind === 'extra' && (rest.length === 0 || keys.length === 0)) {
    // defineProperty, so "__proto__" becomes an own key that JSON.stringify writes out.
    Object.defineProperty(container, Array.isArray(value) ? String(keys.length) : m.key, {
      value: m.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    return value;
  }
  if (keys.length === 0) return m.kind === 'replace' ? m.value : value;
  const key = keys[step % keys.length] as string;
  if (rest.length === 0) {
    if (m.kind === 'delete') {
      if (Array.isArray(value)) value.splice(Number(key), 1);
      else delete container[key];
    } else if (m.kind === 'replace') container[key] = m.value;
    return value;
  }
  container[key] = mutate(container[key], rest, m);
  return value;
}
