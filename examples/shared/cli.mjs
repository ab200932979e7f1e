/**
 * The command-line pieces every example shares: its two error kinds (a
 * `UsageError` prints the usage and exits with 2, a `CliError` its message
 * and exits with 1) and checks of option values that name the flag.
 */

import * as fs from 'node:fs';
import {createRequire} from 'node:module';
import * as os from 'node:os';
import {parseArgs} from 'node:util';

const require = createRequire(import.meta.url);

/** The installed version of a package (from its package.json). */
export function packageVersion(name) {
  return JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;
}

/** `CPU model, N logical cores, Node v…, tfjs-core x, tfjs-layers y`: the machine line of the examples' logs. */
export function machineDescription() {
  const cpus = os.cpus();
  return `${cpus.length ? cpus[0].model.trim() : 'unknown CPU'}, ${cpus.length} logical cores, Node ${process.version}, ` +
      `tfjs-core ${packageVersion('@tensorflow/tfjs-core')}, tfjs-layers ${packageVersion('@tensorflow/tfjs-layers')}`;
}

/** An error whose message says it all (no stack trace); exit code 1. */
export class CliError extends Error {}
/** A bad command line: message plus usage; exit code 2. */
export class UsageError extends CliError {}

/**
 * The values of `argv`'s flags under `options` (node's `util.parseArgs`,
 * strict, no positionals); a flag it does not know, or a value of the wrong
 * kind, is a `UsageError` with parseArgs's message.
 */
export function parseFlags(argv, options) {
  try {
    return parseArgs({args: argv, strict: true, allowPositionals: false, options}).values;
  } catch (e) {
    throw new UsageError(e.message);
  }
}

/**
 * The comma-separated items of `value`, each trimmed and given to `parseItem` (which throws its own
 * `UsageError` for a bad one); an item given twice is a `UsageError` naming `noun`.
 */
export function distinctList(flag, value, parseItem, noun = 'a value') {
  const items = value.split(',').map((s) => parseItem(s.trim()));
  if (new Set(items).size !== items.length) throw new UsageError(`--${flag} lists ${noun} twice. Received: --${flag}=${value}`);
  return items;
}

export function positiveInteger(flag, value) {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--${flag} must be a positive integer. Received: --${flag}=${value}`);
  }
  return n;
}

export function nonNegativeInteger(flag, value) {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) {
    throw new UsageError(`--${flag} must be a non-negative integer. Received: --${flag}=${value}`);
  }
  return n;
}

export function positiveNumber(flag, value) {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${flag} must be a positive number. Received: --${flag}=${value}`);
  }
  return n;
}

export function nonNegativeNumber(flag, value) {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${flag} must be a non-negative number. Received: --${flag}=${value}`);
  }
  return n;
}

/** A number with `digits` decimals, or its text when not finite. */
export const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));

export function median(values) {
  const s = [...values].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs an example's `main(argv)` and reports its failure: a `UsageError`
 * with the usage text (exit code 2), a `CliError` by its message, anything
 * else with its stack (exit code 1).
 */
export function runMain(main, usage) {
  main(process.argv.slice(2)).catch((e) => {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n\n${usage}`);
      process.exitCode = 2;
    } else if (e instanceof CliError) {
      console.error(`error: ${e.message}`);
      process.exitCode = 1;
    } else {
      console.error(`error: ${e && e.stack ? e.stack : e}`);
      process.exitCode = 1;
    }
  });
}
