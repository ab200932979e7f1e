/**
 * Argument checks shared by every public constructor and factory. Each error
 * names the argument, what was expected and the value received, in the style
 * `expected a positive integer. Received: units=-3`.
 */

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  return String(value);
}

/** Throws a `ValueError`-style error naming `name` and the value received. */
/** A shape as `[d0, d1, …]` (unknown dimensions as `null`), for error messages. */
export function showShape(shape: readonly (number|null)[]): string {
  return `[${shape.map((d) => (d == null ? 'null' : String(d))).join(', ')}]`;
}

export function argumentError(where: string, name: string, expected: string, value: unknown): Error {
  return new Error(`${where}: expected ${name} to be ${expected}. Received: ${name}=${show(value)}`);
}

export function checkFiniteNumber(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw argumentError(where, name, 'a finite number', value);
  }
  return value;
}

export function checkNonNegative(where: string, name: string, value: unknown): number {
  const v = checkFiniteNumber(where, name, value);
  if (v < 0) throw argumentError(where, name, 'a non-negative number', value);
  return v;
}

export function checkPositiveInteger(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw argumentError(where, name, 'a positive integer', value);
  }
  return value;
}

export function checkInteger(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw argumentError(where, name, 'an integer', value);
  }
  return value;
}

export function checkOneOf<T extends string>(where: string, name: string, value: unknown, options: readonly T[]): T {
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
    throw argumentError(where, name, `one of ${options.map((o) => `'${o}'`).join(', ')}`, value);
  }
  return value as T;
}

export function checkBoolean(where: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw argumentError(where, name, 'a boolean', value);
  return value;
}

export function checkPositive(where: string, name: string, value: unknown): number {
  const v = checkFiniteNumber(where, name, value);
  if (!(v > 0)) throw argumentError(where, name, 'a positive number', value);
  return v;
}

/** A seed: a non-negative safe integer (tfjs's random ops and our seed streams take one). */
export function checkSeed(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw argumentError(where, name, 'a non-negative integer', value);
  }
  return value;
}

/**
 * The arguments every tfjs layer takes (`LayerArgs`), and `customObjects`,
 * which tfjs-layers adds to a config it deserializes.
 */
export const LAYER_ARG_NAMES: readonly string[] =
    ['inputShape', 'batchInputShape', 'batchSize', 'dtype', 'name', 'trainable', 'weights', 'inputDType', 'customObjects'];

/**
 * Rejects options that `known` does not list (a misspelt `estimater` would
 * otherwise be ignored), naming them and listing the known ones.
 */
export function checkKnownOptions(where: string, args: unknown, known: readonly string[]): void {
  if (args == null) return;
  if (typeof args !== 'object' || Array.isArray(args)) {
    throw new Error(`${where}: expected an options object. Received: ${show(args)}`);
  }
  const unknown = Object.keys(args).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new Error(
        `${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}. ` +
        `Known options: ${known.join(', ')}`);
  }
}
