/**
 * The gradients of a 2-D convolution on the wasm backend: `Conv2DBackpropFilter`
 * (which tfjs-backend-wasm 4.22 does not have, so no convolutional model
 * could train there) and a fast `Conv2DBackpropInput` (the wasm kernel is a
 * scalar loop: 0.4 s for the second convolution of a small MNIST CNN, ten
 * times its forward pass).
 *
 * Both work as matrix products over the rows of the convolution (one row per
 * output position, `conv_kernels.wat`):
 *
 *     dW = colsᵀ · dy            cols = im2col(x), P × (FH·FW·C)
 *     dx = col2im(dy · Wᵀ)
 *
 * in chunks of rows, so the im2col buffer stays small (a few hundred KB): for
 * the filter, `im2col` of a chunk then `gemmTnAcc` (c += aᵀ·b, 4×8 SIMD tiles)
 * into one accumulator; for the input, `gemm` of `simd_kernels.wat` (dy's
 * chunk times the transposed filter) then `col2imAdd`. The filter gradient is
 * summed in the order of the cpu kernel (batch, output row, output column), in
 * float32 where the cpu kernel sums in float64. NCHW operands are transposed
 * to NHWC first (and dx back).
 *
 * Validation before any allocation: the checks of tfjs-core's ops
 * (`conv2DBackpropFilter`, `conv2DBackpropInput`) with their messages, then
 * `backend_util.computeConv2DInfo` as the cpu and wasm kernels call it (its
 * errors: unknown padding, data format). Beyond that, where the kernels of
 * tfjs would read past an operand or at fractional indices (a `dy` whose shape
 * is not the convolution's output shape, strides that are not positive
 * integers, fractional padding), these throw an error naming the argument;
 * a dy larger than the output is read in its leading part, as tfjs does.
 *
 * Where the SIMD modules cannot run (an engine without WebAssembly SIMD),
 * `Conv2DBackpropFilter` is a plain loop over the heap (float64 sums, as the
 * cpu kernel) and `Conv2DBackpropInput` stays the wasm kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

import {CONV_KERNELS_WASM, CONV_KERNELS_WASM_SHARED} from './conv_kernels_wasm';
import {heapOffset, SimdKernels, simdKernelsFor, WasmBackendLike} from './simd_kernels';
import {BACKEND, KernelParams} from './wasm_backend';
import {backendMemory, WasmModule} from './wasm_module';

/** The exported functions of `conv_kernels.wat`; pointers are byte offsets into the backend's memory. */
interface ConvKernels {
  im2col(x: number, cols: number, p0: number, p1: number, ld: number, H: number, W: number, C: number,
         FH: number, FW: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number): void;
  col2imAdd(cols: number, dx: number, p0: number, p1: number, ld: number, H: number, W: number, C: number,
            FH: number, FW: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number): void;
  gemmTnAcc(a: number, b: number, c: number, rows: number, m: number, n: number, lda: number, ldb: number,
            ldc: number): void;
}

/** Rows of the convolution per chunk: the chunk of im2col holds about this many floats. */
const CHUNK_FLOATS = 1 << 16;

/** Calls of the two kernels here, by path (read by the tests). */
export const convKernelCalls = {filterSimd: 0, filterLoop: 0, inputSimd: 0, inputPassedThrough: 0};

// ---------------------------------------------------------------- geometry and validation

/** A convolution's sizes, NHWC view (channelsFirst operands are transposed to it). */
interface Geometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  fh: number;
  fw: number;
  outC: number;
  outH: number;
  outW: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  channelsLast: boolean;
  /** dy's (NHWC or NCHW) shape: the convolution's output shape. */
  outShape: number[];
}

type Pad = 'valid'|'same'|number|tf.backend_util.ExplicitPadding;
type Rounding = 'floor'|'round'|'ceil'|undefined;

function geometry(kernel: string, inShape: number[], filterShape: number[], attrs: tf.NamedAttrMap): Geometry {
  const dataFormat = (attrs.dataFormat ?? 'NHWC') as 'NHWC'|'NCHW';
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
      inShape as [number, number, number, number], filterShape as [number, number, number, number],
      attrs.strides as number|[number, number], 1, attrs.pad as Pad, attrs.dimRoundingMode as Rounding, false, format);
  const positive = (v: number) => Number.isInteger(v) && v > 0;
  if (!positive(info.strideHeight) || !positive(info.strideWidth)) {
    throw new Error(`${kernel}: expected strides of positive integers. Received: strides=${JSON.stringify(attrs.strides)}`);
  }
  const {top, left} = info.padInfo;
  if (!Number.isInteger(top) || !Number.isInteger(left) || !Number.isInteger(info.outHeight) ||
      !Number.isInteger(info.outWidth)) {
    throw new Error(`${kernel}: expected a padding of whole pixels. Received: pad=${JSON.stringify(attrs.pad)} ` +
                    `(top ${top}, left ${left}, output ${info.outHeight}×${info.outWidth})`);
  }
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    fh: info.filterHeight,
    fw: info.filterWidth,
    outC: info.outChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    pt: top,
    pl: left,
    channelsLast: info.dataFormat === 'channelsLast',
    outShape: info.outShape,
  };
}

function input(params: KernelParams, name: string, kernel: string): tf.TensorInfo {
  const t = params.inputs[name];
  if (t == null) throw new Error(`${kernel}: expected the input ${name}. Received: ${name}=${t}`);
  return t;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * tfjs's kernels index dy with its own strides over the convolution's output
 * positions: a dy larger than the output shape (tfjs-core's own conv2dTranspose
 * specs pass one) is read in its leading part; a smaller one would be read past.
 */
function checkDy(kernel: string, dy: tf.TensorInfo, g: Geometry): void {
  if (dy.shape.length !== 4 || !g.outShape.every((n, i) => dy.shape[i] >= n)) {
    throw new Error(`${kernel}: expected dy of the convolution's output shape [${g.outShape}] (or larger in some ` +
                    `axes: tfjs reads its leading part). Received: dy.shape=[${dy.shape}]`);
  }
}

/**
 * dy itself when it has the output shape, else a float32 copy of its leading
 * part of that shape (kept in `temporaries`).
 */
function compactDy(backend: WasmBackendLike, dy: tf.TensorInfo, g: Geometry, temporaries: tf.TensorInfo[]): tf.TensorInfo {
  if (sameShape(dy.shape, g.outShape)) return dy;
  const [n0, n1, n2, n3] = g.outShape;
  const out = temporary(backend, g.outShape, temporaries);
  const from = backend.typedArrayFromHeap(dy);
  const to = backend.typedArrayFromHeap(out);
  const [s0, s1, s2] = tf.util.computeStrides(dy.shape);
  let o = 0;
  for (let i = 0; i < n0; i++) {
    for (let j = 0; j < n1; j++) {
      for (let k = 0; k < n2; k++) {
        const at = i * s0 + j * s1 + k * s2;
        for (let l = 0; l < n3; l++) to[o++] = from[at + l];
      }
    }
  }
  return out;
}

/** The checks of tfjs-core's `conv2DBackpropFilter` op (its messages), then the geometry. */
function filterGeometry(params: KernelParams): Geometry {
  const x = input(params, 'x', tf.Conv2DBackpropFilter);
  const dy = input(params, 'dy', tf.Conv2DBackpropFilter);
  const attrs = params.attrs ?? {};
  const filterShape = attrs.filterShape as number[];
  const dataFormat = attrs.dataFormat ?? 'NHWC';
  tf.util.assert(x.shape.length === 4, () => `Error in conv2dDerFilter: input must be rank 4, but got shape ${x.shape}.`);
  tf.util.assert(dy.shape.length === 4, () => `Error in conv2dDerFilter: dy must be rank 4, but got shape ${dy.shape}.`);
  tf.util.assert(Array.isArray(filterShape) && filterShape.length === 4,
                 () => `Error in conv2dDerFilter: filterShape must be length 4, but got ${filterShape}.`);
  const inDepth = dataFormat === 'NHWC' ? x.shape[3] : x.shape[1];
  const outDepth = dataFormat === 'NHWC' ? dy.shape[3] : dy.shape[1];
  tf.util.assert(inDepth === filterShape[2], () => `Error in conv2dDerFilter: depth of input ${inDepth}) must ` +
                                                   `match input depth in filter (${filterShape[2]}.`);
  tf.util.assert(outDepth === filterShape[3], () => `Error in conv2dDerFilter: depth of dy (${outDepth}) must ` +
                                                    `match output depth for filter (${filterShape[3]}).`);
  tf.backend_util.checkPadOnDimRoundingMode('conv2dDerFilter', attrs.pad as Pad, attrs.dimRoundingMode as Rounding);
  return geometry(tf.Conv2DBackpropFilter, x.shape, filterShape, attrs);
}

/** The checks of tfjs-core's `conv2DBackpropInput` op (its messages), then the geometry. */
function inputGeometry(params: KernelParams): Geometry {
  const dy = input(params, 'dy', tf.Conv2DBackpropInput);
  const filter = input(params, 'filter', tf.Conv2DBackpropInput);
  const attrs = params.attrs ?? {};
  const inShape = attrs.inputShape as number[];
  const dataFormat = attrs.dataFormat ?? 'NHWC';
  tf.util.assert(Array.isArray(inShape) && inShape.length === 4,
                 () => `Error in conv2dDerInput: inShape must be length 4, but got length ${inShape?.length}.`);
  tf.util.assert(dy.shape.length === 4, () => `Error in conv2dDerInput: dy must be rank 4, but got rank ${dy.shape.length}`);
  tf.util.assert(filter.shape.length === 4,
                 () => `Error in conv2dDerInput: filter must be rank 4, but got rank ${filter.shape.length}`);
  const inDepth = dataFormat === 'NHWC' ? inShape[3] : inShape[1];
  const outDepth = dataFormat === 'NHWC' ? dy.shape[3] : dy.shape[1];
  tf.util.assert(inDepth === filter.shape[2], () => `Error in conv2dDerInput: depth of input (${inDepth}) must ` +
                                                    `match input depth for filter ${filter.shape[2]}.`);
  tf.util.assert(outDepth === filter.shape[3], () => `Error in conv2dDerInput: depth of output (${outDepth}) must ` +
                                                     `match output depth for filter ${filter.shape[3]}.`);
  tf.backend_util.checkPadOnDimRoundingMode('conv2dDerInput', attrs.pad as Pad, attrs.dimRoundingMode as Rounding);
  return geometry(tf.Conv2DBackpropInput, inShape, filter.shape, attrs);
}

// ---------------------------------------------------------------- the module

const MODULE = new WasmModule<ConvKernels>(CONV_KERNELS_WASM, CONV_KERNELS_WASM_SHARED);

/** `conv_kernels.wat` bound to the memory `simd_kernels.wat` runs in, or `null` where it cannot run. */
function convKernelsFor(backend: WasmBackendLike): ConvKernels|null {
  if (simdKernelsFor(backend) == null) return null;  // no SIMD, or no memory to bind to
  const memory = backendMemory(backend);
  return memory === null ? null : MODULE.on(memory);
}

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

/** Rows per chunk for rows of `rowFloats` floats. */
const chunkRows = (rowFloats: number) => Math.max(16, Math.min(1024, Math.floor(CHUNK_FLOATS / Math.max(1, rowFloats))));

// ---------------------------------------------------------------- Conv2DBackpropFilter

/**
 * `Conv2DBackpropFilter` on wasm: `dW[kh, kw, c, co] = Σ_{b, oy, ox} x[b, oy·sh − pt + kh, ox·sw − pl + kw, c] ·
 * dy[b, oy, ox, co]` (x read as 0 outside the image), for NHWC and NCHW
 * operands, as the cpu kernel (dilations 1: tfjs-core's op and the gradients
 * that call it have none).
 */
export function conv2DBackpropFilter(params: KernelParams): tf.TensorInfo {
  const backend = params.backend as unknown as WasmBackendLike;
  const g = filterGeometry(params);
  const {x, dy} = params.inputs as {x: tf.TensorInfo; dy: tf.TensorInfo};
  const filterShape = [g.fh, g.fw, g.inC, g.outC];
  const K = g.fh * g.fw * g.inC;
  const P = g.batch * g.outH * g.outW;
  // No output positions (an image smaller than the filter without padding): the cpu kernel's sums are empty.
  if (g.outH <= 0 || g.outW <= 0 || g.batch === 0) return zeros(backend, filterShape);
  checkDy(tf.Conv2DBackpropFilter, dy, g);
  if (K * g.outC === 0) return backend.makeOutput(filterShape, 'float32');
  const temporaries: tf.TensorInfo[] = [];
  let out: tf.TensorInfo|null = null;
  try {
    // Values as float32 (the cpu kernel reads any dtype as numbers).
    const xf = asFloat32(params, x, temporaries);
    const dyf = compactDy(backend, asFloat32(params, dy, temporaries), g, temporaries);
    const simd = simdKernelsFor(backend);
    const conv = convKernelsFor(backend);
    // The products multiply the zeros of im2col's padding by dy, where the cpu kernel skips those
    // terms: 0·∞ would be NaN. With a non-finite dy the loop keeps the cpu kernel's terms.
    if (simd == null || conv == null || (windowsLeaveImage(g) && !allFinite(backend.typedArrayFromHeap(dyf)))) {
      out = filterLoop(backend, xf, dyf, g, filterShape);
      convKernelCalls.filterLoop++;
      return out;
    }
    out = backend.makeOutput(filterShape, 'float32');
    const xn = g.channelsLast ? xf : toChannelsLast(backend, simd, xf, [g.batch, g.inC, g.inH * g.inW], temporaries);
    const dyn = g.channelsLast ? dyf : toChannelsLast(backend, simd, dyf, [g.batch, g.outC, g.outH * g.outW], temporaries);
    const lda = roundUp(K, 4);
    const ldb = roundUp(g.outC, 8);
    const rows = chunkRows(lda);
    const cols = temporary(backend, [rows * lda], temporaries);
    const dyPad = ldb === g.outC ? null : temporary(backend, [rows * ldb], temporaries);
    const acc = lda === K && ldb === g.outC ? out : temporary(backend, [lda * ldb], temporaries);
    // Offsets and views once everything is allocated (an allocation may grow the heap).
    const heap = backend.typedArrayFromHeap(out).buffer as ArrayBuffer;
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    const [xAt, dyAt, colsAt, accAt] = [xn, dyn, cols, acc].map(at);
    new Float32Array(heap, accAt, lda * ldb).fill(0);
    for (let p0 = 0; p0 < P; p0 += rows) {
      const p1 = Math.min(P, p0 + rows);
      conv.im2col(xAt, colsAt, p0, p1, lda, g.inH, g.inW, g.inC, g.fh, g.fw, g.sh, g.sw, g.pt, g.pl, g.outH, g.outW);
      let bAt = dyAt + p0 * g.outC * 4;
      if (dyPad != null) {
        bAt = at(dyPad);
        const padded = new Float32Array(heap, bAt, rows * ldb);
        const from = new Float32Array(heap, dyAt, P * g.outC);
        for (let p = p0; p < p1; p++) {
          padded.set(from.subarray(p * g.outC, (p + 1) * g.outC), (p - p0) * ldb);
          padded.fill(0, (p - p0) * ldb + g.outC, (p - p0 + 1) * ldb);
        }
      }
      conv.gemmTnAcc(colsAt, bAt, accAt, p1 - p0, lda, ldb, lda, ldb, ldb);
    }
    if (acc !== out) {
      const result = new Float32Array(heap, at(out), K * g.outC);
      const sums = new Float32Array(heap, accAt, lda * ldb);
      for (let k = 0; k < K; k++) result.set(sums.subarray(k * ldb, k * ldb + g.outC), k * g.outC);
    }
    convKernelCalls.filterSimd++;
    return out;
  } catch (e) {
    if (out != null) backend.disposeData(out.dataId);
    throw e;
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

/** The filter gradient without the SIMD modules: the cpu kernel's loops over the heap (float64 sums). */
function filterLoop(backend: WasmBackendLike, x: tf.TensorInfo, dy: tf.TensorInfo, g: Geometry,
                    filterShape: number[]): tf.TensorInfo {
  const out = backend.makeOutput(filterShape, 'float32');
  const xv = backend.typedArrayFromHeap(x);
  const dyv = backend.typedArrayFromHeap(dy);
  const dw = backend.typedArrayFromHeap(out);
  // Strides of (batch, row, column, channel) in x and dy for either format.
  const xs = g.channelsLast ? [g.inH * g.inW * g.inC, g.inW * g.inC, g.inC, 1] : [g.inC * g.inH * g.inW, g.inW, 1, g.inH * g.inW];
  const ys = g.channelsLast ? [g.outH * g.outW * g.outC, g.outW * g.outC, g.outC, 1] :
                              [g.outC * g.outH * g.outW, g.outW, 1, g.outH * g.outW];
  let o = 0;
  for (let kh = 0; kh < g.fh; kh++) {
    const yMin = Math.max(0, Math.ceil((g.pt - kh) / g.sh));
    const yMax = Math.min(g.outH, (g.inH + g.pt - kh) / g.sh);
    for (let kw = 0; kw < g.fw; kw++) {
      const xMin = Math.max(0, Math.ceil((g.pl - kw) / g.sw));
      const xMax = Math.min(g.outW, (g.inW + g.pl - kw) / g.sw);
      for (let c = 0; c < g.inC; c++) {
        for (let co = 0; co < g.outC; co++) {
          let sum = 0;
          for (let b = 0; b < g.batch; b++) {
            for (let oy = yMin; oy < yMax; oy++) {
              const iy = kh + oy * g.sh - g.pt;
              for (let ox = xMin; ox < xMax; ox++) {
                const ix = kw + ox * g.sw - g.pl;
                sum += xv[b * xs[0] + iy * xs[1] + ix * xs[2] + c * xs[3]] *
                    dyv[b * ys[0] + oy * ys[1] + ox * ys[2] + co * ys[3]];
              }
            }
          }
          dw[o++] = sum;
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- Conv2DBackpropInput

/**
 * `Conv2DBackpropInput` on wasm (a wrapper of the backend's kernel):
 * `dx[b, iy, ix, c] = Σ dy[b, oy, ox, co] · W[iy − oy·sh + pt, ix − ox·sw + pl, c, co]`
 * over the outputs whose window covers (iy, ix). Operands that are not
 * float32 go to the wasm kernel, as do all where the SIMD modules cannot run.
 */
export function conv2DBackpropInput(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo {
  const backend = params.backend as unknown as WasmBackendLike;
  const g = inputGeometry(params);
  const {dy, filter} = params.inputs as {dy: tf.TensorInfo; filter: tf.TensorInfo};
  const inShape = params.attrs!.inputShape as number[];
  const simd = simdKernelsFor(backend);
  const conv = convKernelsFor(backend);
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32' || simd == null || conv == null || g.outH <= 0 ||
      g.outW <= 0) {
    convKernelCalls.inputPassedThrough++;
    return original.kernelFunc(params) as tf.TensorInfo;
  }
  checkDy(tf.Conv2DBackpropInput, dy, g);
  const K = g.fh * g.fw * g.inC;
  const P = g.batch * g.outH * g.outW;
  if (tf.util.sizeFromShape(inShape) === 0) return backend.makeOutput(inShape, 'float32');
  if (K * g.outC * P === 0) return zeros(backend, inShape);
  const temporaries: tf.TensorInfo[] = [];
  let out: tf.TensorInfo|null = null;
  try {
    const dyc = compactDy(backend, dy, g, temporaries);
    out = backend.makeOutput(inShape, 'float32');
    const dyn = g.channelsLast ? dyc : toChannelsLast(backend, simd, dyc, [g.batch, g.outC, g.outH * g.outW], temporaries);
    const dxn = g.channelsLast ? out : temporary(backend, [g.batch, g.inH, g.inW, g.inC], temporaries);
    const wt = temporary(backend, [g.outC, K], temporaries);
    const pack = temporary(backend, [8 * Math.ceil(K / 8) * (g.outC + 1) + 8], temporaries);
    const rows = chunkRows(K);
    const cols = temporary(backend, [rows * K], temporaries);
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    const [filterAt, dyAt, dxAt, wtAt, packAt, colsAt] = [filter, dyn, dxn, wt, pack, cols].map(at);
    backend.typedArrayFromHeap(dxn).fill(0);
    simd.transpose(filterAt, wtAt, K, g.outC);
    for (let p0 = 0; p0 < P; p0 += rows) {
      const p1 = Math.min(P, p0 + rows);
      simd.gemm(dyAt + p0 * g.outC * 4, wtAt, colsAt, p1 - p0, g.outC, K, 0, 0, packAt);
      conv.col2imAdd(colsAt, dxAt, p0, p1, K, g.inH, g.inW, g.inC, g.fh, g.fw, g.sh, g.sw, g.pt, g.pl, g.outH, g.outW);
    }
    if (!g.channelsLast) {
      // NHWC → NCHW, image by image: [H·W, C] → [C, H·W].
      const size = g.inH * g.inW * g.inC;
      const outAt = at(out);
      for (let b = 0; b < g.batch; b++) simd.transpose(dxAt + b * size * 4, outAt + b * size * 4, g.inH * g.inW, g.inC);
    }
    convKernelCalls.inputSimd++;
    return out;
  } catch (e) {
    if (out != null) backend.disposeData(out.dataId);
    throw e;
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

// ---------------------------------------------------------------- helpers

/** Whether some window of the convolution reaches past the image (where im2col writes zeros). */
function windowsLeaveImage(g: Geometry): boolean {
  return g.pt > 0 || g.pl > 0 || (g.outH - 1) * g.sh - g.pt + g.fh > g.inH || (g.outW - 1) * g.sw - g.pl + g.fw > g.inW;
}

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) return false;
  }
  return true;
}

function temporary(backend: WasmBackendLike, shape: number[], temporaries: tf.TensorInfo[]): tf.TensorInfo {
  const t = backend.makeOutput(shape, 'float32');
  temporaries.push(t);
  return t;
}

function zeros(backend: WasmBackendLike, shape: number[]): tf.TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  if (tf.util.sizeFromShape(shape) > 0) backend.typedArrayFromHeap(out).fill(0);
  return out;
}

/** `t` itself when float32, else a float32 copy through the backend's `Cast` kernel (kept in `temporaries`). */
function asFloat32(params: KernelParams, t: tf.TensorInfo, temporaries: tf.TensorInfo[]): tf.TensorInfo {
  if (t.dtype === 'float32') return t;
  const cast = tf.getKernel(tf.Cast, BACKEND);
  if (cast == null) throw new Error(`${tf.Conv2DBackpropFilter}: the wasm backend has no Cast kernel for a ${t.dtype} input`);
  const out = cast.kernelFunc({inputs: {x: t}, backend: params.backend, attrs: {dtype: 'float32'}}) as tf.TensorInfo;
  temporaries.push(out);
  return out;
}

/** An NHWC copy of an NCHW tensor seen as [batch, C, H·W]: each image's [C, H·W] transposed. */
function toChannelsLast(backend: WasmBackendLike, simd: SimdKernels, t: tf.TensorInfo, [batch, c, hw]: number[],
                        temporaries: tf.TensorInfo[]): tf.TensorInfo {
  const out = temporary(backend, [batch * hw * c], temporaries);
  const from = heapOffset(backend, t);
  const to = heapOffset(backend, out);
  for (let b = 0; b < batch; b++) simd.transpose(from + b * c * hw * 4, to + b * c * hw * 4, c, hw);
  return out;
}

// ---------------------------------------------------------------- registration

/**
 * Marks our `Conv2DBackpropFilter` registry entry. A registered symbol, so
 * that two copies of this library in one process recognise each other's entry.
 */
const OURS: unique symbol = Symbol.for('tfjs-variational.fastWasmKernels.conv2DBackpropFilter');

/**
 * Registers `Conv2DBackpropFilter` for wasm where the backend has none —
 * only once the backend's own kernels are registered (so that a wasm package
 * with its own kernel keeps it). True when a kernel is registered now (ours or
 * the backend's).
 */
export function installConv2DBackpropFilter(): boolean {
  if (tf.getKernel(tf.Conv2DBackpropFilter, BACKEND) != null) return true;
  if (tf.getKernel(tf.Conv2D, BACKEND) == null) return false;  // the wasm backend is not registered yet
  const config: tf.KernelConfig = {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: BACKEND,
    kernelFunc: (params) => conv2DBackpropFilter(params),
  };
  Object.defineProperty(config, OURS, {value: true});
  tf.registerKernel(config);
  return true;
}

/** Unregisters our `Conv2DBackpropFilter` (never the backend's own). */
export function removeConv2DBackpropFilter(): void {
  if (isOurConv2DBackpropFilter()) tf.unregisterKernel(tf.Conv2DBackpropFilter, BACKEND);
}

/** Whether the registered wasm `Conv2DBackpropFilter` is this module's. */
export function isOurConv2DBackpropFilter(): boolean {
  const current = tf.getKernel(tf.Conv2DBackpropFilter, BACKEND) as (tf.KernelConfig & {[OURS]?: boolean})|undefined;
  return current?.[OURS] === true;
}
