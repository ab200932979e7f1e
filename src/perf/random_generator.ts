/**
 * The library's counter-based random generator: Threefry-2x32-20 integers
 * (Salmon et al. 2011; the generator of JAX) turned into standard normals by
 * Box–Muller and into random signs by their bits (`random_kernels.wat`
 * describes the mapping). Two implementations give the same bits:
 *
 * - a WebAssembly SIMD module (`random_kernels.wat`, bytes in
 *   `random_kernels_wasm.ts`) instantiated on a memory of its own, so it
 *   runs in Node and every browser whatever the tfjs backend;
 * - plain JavaScript, where WebAssembly SIMD is unavailable: the same
 *   integer operations, and every float operation rounded to float32 with
 *   `Math.fround` (add, sub, mul and sqrt of float32 values rounded once from
 *   double are the float32 operations themselves), in the module's order.
 *
 * Draws depend only on the key (two 32-bit words from the seed) and the
 * element's index, so they are the same on every backend and engine.
 * This module imports nothing of the library (a lower layer: `src/distributions`
 * uses it).
 */
import {RANDOM_KERNELS_WASM, RANDOM_KERNELS_WASM_SHARED} from './random_kernels_wasm';
import {WasmModule} from './wasm_module';

/** A Threefry key: two unsigned 32-bit words. */
export type RandomKey = readonly [number, number];

/** The stream (second counter word) of each kind of draw, so one key gives independent normals and signs. */
export const NORMAL_STREAM = 0;
export const SIGN_STREAM = 1;

/** Which implementation fills the arrays: `'auto'` (the wasm module where it runs), `'wasm'` or `'js'`. */
export type RandomImplementation = 'auto'|'wasm'|'js';

let implementation: RandomImplementation = 'auto';

/** Chooses the implementation (for tests and benchmarks); returns the previous choice. */
export function setRandomImplementation(impl: RandomImplementation): RandomImplementation {
  const previous = implementation;
  implementation = impl;
  return previous;
}

/** Whether the WebAssembly SIMD module runs in this engine. */
export function randomKernelsAvailable(): boolean {
  return kernels() !== null;
}

/** The key of a seed: its value modulo 2⁶⁴ as two words (a seed is a non-negative integer; fractions are floored). */
export function keyFromSeed(seed: number): RandomKey {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new Error(`random: expected the seed to be a finite number. Received: seed=${String(seed)}`);
  }
  const s = Math.floor(Math.abs(seed));
  const lo = s % 4294967296;
  const hi = Math.floor(s / 4294967296) % 4294967296;
  // A negative seed gets its own keys (the sign in the high word's top bit).
  return [lo >>> 0, (seed < 0 ? (hi | 0x80000000) : hi) >>> 0];
}

/** A key from `Math.random` (so a test that reseeds Math.random repeats unseeded draws). */
export function randomKey(): RandomKey {
  return [Math.floor(Math.random() * 4294967296) >>> 0, Math.floor(Math.random() * 4294967296) >>> 0];
}

/**
 * One kind of draw: the module's export and its JavaScript twin, which fill whole units of `unit` elements
 * (counted from the unit `first`, so that a draw depends on its element's index alone), and the stream of its
 * counters.
 */
interface DrawKind {
  readonly unit: number;
  readonly stream: number;
  readonly wasm: (x: RandomExports) => RandomExports['normals'];
  readonly js: (out: Float32Array, first: number, k0: number, k1: number, c1: number) => void;
}

/** Standard normals: blocks of 8 (four counters, two normals each). */
const NORMALS: DrawKind = {unit: 8, stream: NORMAL_STREAM, wasm: (x) => x.normals, js: normalsJS};
/** Random signs: groups of 256 (four counters, a sign per bit of their 8 words). */
const SIGNS: DrawKind = {unit: 256, stream: SIGN_STREAM, wasm: (x) => x.signs, js: signsJS};

function fill(kind: DrawKind, out: Float32Array, key: RandomKey): void {
  const n = out.length;
  if (n === 0) return;
  const units = Math.ceil(n / kind.unit);
  const k = implementation === 'js' ? null : kernels();
  if (k === null) {
    if (implementation === 'wasm') throw new Error('random: the WebAssembly SIMD module cannot run in this engine');
    kind.js(out, 0, key[0] | 0, key[1] | 0, kind.stream);
    return;
  }
  const view = k.reserve(units * kind.unit * 4);
  kind.wasm(k.exports)(0, units, key[0] | 0, key[1] | 0, kind.stream);
  out.set(view.subarray(0, n));
}

function fillInMemory(kind: DrawKind, memory: WebAssembly.Memory, out: Float32Array, key: RandomKey): boolean {
  if (implementation === 'js' || out.buffer !== memory.buffer) return false;
  const k = boundKernels(memory);
  if (k === null) return false;
  const units = Math.floor(out.length / kind.unit);
  if (units > 0) kind.wasm(k)(out.byteOffset, units, key[0] | 0, key[1] | 0, kind.stream);
  if (kind.unit * units < out.length) kind.js(out.subarray(kind.unit * units), units, key[0] | 0, key[1] | 0, kind.stream);
  return true;
}

/** Fills `out` with standard normal draws (element i of the key's stream: the same for every length of `out`). */
export function fillStandardNormal(out: Float32Array, key: RandomKey): void {
  fill(NORMALS, out, key);
}

/** Fills `out` with random signs, each −1 or +1 with probability ½. */
export function fillRandomSigns(out: Float32Array, key: RandomKey): void {
  fill(SIGNS, out, key);
}

/**
 * Fills `out`, a view of `memory` (the wasm backend's heap: `out` is a
 * tensor's data there), with the same values as `fillStandardNormal`, without
 * a copy: the whole blocks of 8 by the module bound to that memory, the last
 * one to seven elements by the JavaScript twin (the same bits). Returns false,
 * leaving `out` as it was, where the module cannot run on `memory`.
 */
export function fillStandardNormalInMemory(memory: WebAssembly.Memory, out: Float32Array, key: RandomKey): boolean {
  return fillInMemory(NORMALS, memory, out, key);
}

/** `fillRandomSigns` into a view of `memory`, as `fillStandardNormalInMemory` (whole groups of 256 by the module). */
export function fillRandomSignsInMemory(memory: WebAssembly.Memory, out: Float32Array, key: RandomKey): boolean {
  return fillInMemory(SIGNS, memory, out, key);
}

// ---------------------------------------------------------------------------
// Plain JavaScript, operation for operation the module's.

/**
 * Threefry-2x32-20 of the counter (c0, c1) under the key (k0, k1), into
 * `result[0..1]` (unsigned words). Exported for the known-answer test.
 */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number, result: Uint32Array|number[]): void {
  const ks = [k0 | 0, k1 | 0, (k0 ^ k1 ^ 0x1BD11BDA) | 0];
  let x0 = (c0 + ks[0]) | 0;
  let x1 = (c1 + ks[1]) | 0;
  for (let s = 1; s <= 5; s++) {
    const rot = (s & 1) === 1 ? ROTATIONS_EVEN : ROTATIONS_ODD;
    for (let i = 0; i < 4; i++) {
      x0 = (x0 + x1) | 0;
      x1 = ((x1 << rot[i]) | (x1 >>> (32 - rot[i]))) ^ x0;
    }
    x0 = (x0 + ks[s % 3]) | 0;
    x1 = (x1 + ks[(s + 1) % 3] + s) | 0;
  }
  result[0] = x0 >>> 0;
  result[1] = x1 >>> 0;
}
// Key injection s = 1, 3, 5 follows rounds with 13 15 26 6 (the first, third and fifth groups).
const ROTATIONS_EVEN = [13, 15, 26, 6];
const ROTATIONS_ODD = [17, 29, 16, 24];

const f = Math.fround;
const bitsF32 = new Float32Array(1);
const bitsI32 = new Int32Array(bitsF32.buffer);

// The module's constants (float32 values, printed exactly).
const SQRT_HALF = 0.7071067690849304;
const LOG_P = [0.07037683576345444, -0.11514610052108765, 0.11676998436450958, -0.12420140951871872,
  0.14249323308467865, -0.16668057441711426, 0.2000071406364441, -0.24999994039535522, 0.3333333134651184];
const LOG_Q1 = -0.00021219444170128554;
const LOG_Q2 = 0.693359375;
const SIN_3 = -0.00019515295571181923;
const SIN_2 = 0.008332161232829094;
const SIN_1 = -0.16666655242443085;
const COS_3 = 0.0000244331567955669;
const COS_2 = -0.0013887316454201937;
const COS_1 = 0.04166664555668831;
const ANGLE_STEP = 3.7450703871400037e-7;  // f32((π/2)/2²²)
const TWO_POW_M32 = 2.3283064365386963e-10;
const TWO_POW_M33 = 1.1641532182693481e-10;

/** The module's log (written out in `normals`), one lane. */
function logF32(u: number): number {
  bitsF32[0] = u;
  const bits = bitsI32[0];
  let e = (bits >>> 23) - 126;
  bitsI32[0] = (bits & 0x007FFFFF) | 0x3F000000;
  const m = bitsF32[0];
  let x: number;
  if (m < SQRT_HALF) {
    e -= 1;
    x = f(f(m + m) - 1);
  } else {
    x = f(m - 1);
  }
  const z = f(x * x);
  let y = f(LOG_P[0] * x);
  for (let i = 1; i < 8; i++) y = f(f(y + LOG_P[i]) * x);
  y = f(y + LOG_P[8]);
  y = f(f(y * x) * z);
  const fe = e;  // an integer below 2²⁴: exact in float32
  y = f(y + f(LOG_Q1 * fe));
  y = f(y + f(-0.5 * z));
  x = f(x + y);
  return f(x + f(LOG_Q2 * fe));
}

const tf2 = new Uint32Array(2);

/** Normals of blocks first, first + 1, … into `out` (out[0] is element 8·first). */
function normalsJS(out: Float32Array, first: number, k0: number, k1: number, c1: number): void {
  const n = out.length;
  for (let b = 0; 8 * b < n; b++) {
    for (let lane = 0; lane < 4; lane++) {
      const iCos = 8 * b + lane;
      if (iCos >= n) return;
      threefry2x32(k0, k1, 4 * (first + b) + lane, c1, tf2);
      const x0 = tf2[0];
      const x1 = tf2[1];
      const u = f(f(f(x0) * TWO_POW_M32) + TWO_POW_M33);
      const r = f(Math.sqrt(Math.max(f(logF32(u) * -2), 0)));
      const a = f(f((x1 & 0x3FFFFF) - 2097151.5) * ANGLE_STEP);
      const z = f(a * a);
      let s = f(f(SIN_3 * z) + SIN_2);
      s = f(f(s * z) + SIN_1);
      s = f(f(f(s * z) * a) + a);
      let c = f(f(COS_3 * z) + COS_2);
      c = f(f(c * z) + COS_1);
      c = f(f(c * z) * z);
      c = f(c - f(0.5 * z));
      c = f(c + 1);
      const swap = (x1 & 0x40000000) !== 0;
      const q = x1 >>> 30;
      let C = swap ? s : c;
      let S = swap ? c : s;
      if (q === 1 || q === 2) C = -C;
      if (q >= 2) S = -S;
      out[iCos] = r * C;
      if (iCos + 4 < n) out[iCos + 4] = r * S;
    }
  }
}

/** Signs of groups first, first + 1, … into `out` (out[0] is element 256·first). */
function signsJS(out: Float32Array, first: number, k0: number, k1: number, c1: number): void {
  const n = out.length;
  for (let p = 0; 256 * p < n; p++) {
    for (let lane = 0; lane < 4; lane++) {
      threefry2x32(k0, k1, 4 * (first + p) + lane, c1, tf2);
      for (let j = 0; j < 64; j++) {
        const i = 256 * p + 4 * j + lane;
        if (i < n) out[i] = ((tf2[j >> 5] >>> (j & 31)) & 1) === 1 ? -1 : 1;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The module, on a memory of its own.

interface RandomExports {
  normals(out: number, blocks: number, k0: number, k1: number, c1: number): void;
  signs(out: number, groups: number, k0: number, k1: number, c1: number): void;
}

interface RandomKernels {
  exports: RandomExports;
  /** A view of the first `bytes` bytes of the module's memory, grown to hold them. */
  reserve(bytes: number): Float32Array;
}

let instance: RandomKernels|null|undefined;
const MODULE = new WasmModule<RandomExports>(RANDOM_KERNELS_WASM, RANDOM_KERNELS_WASM_SHARED);

/** The module instantiated on another memory (the wasm backend's), or null. */
function boundKernels(memory: WebAssembly.Memory): RandomExports|null {
  return MODULE.on(memory);
}

function kernels(): RandomKernels|null {
  if (instance !== undefined) return instance;
  instance = null;
  try {
    const module = MODULE.compiled(false);
    if (module !== null) {
      const memory = new WebAssembly.Memory({initial: 1});
      const exports = new WebAssembly.Instance(module, {env: {memory}}).exports as unknown as RandomExports;
      instance = {
        exports,
        reserve(bytes: number): Float32Array {
          const pages = Math.ceil(bytes / 65536);
          const current = memory.buffer.byteLength / 65536;
          if (pages > current) memory.grow(pages - current);
          return new Float32Array(memory.buffer, 0, bytes / 4);
        },
      };
    }
  } catch {
    instance = null;
  }
  return instance;
}

