import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
// Extensionless so that TypeScript picks up datasets.d.ts; Jest resolves datasets.cjs.
import * as datasets from '../examples/shared/datasets';

const {loadEmbeddedMnist, readIdx, loadIdxDataset, fashionMnistDir, mnistIdxDir} = datasets;

/** Builds an IDX file: magic 00 00 type ndims, big-endian uint32 dims, big-endian data. */
function idxBytes(type: number, dims: number[], values: ArrayLike<number>): Buffer {
  const size = ({0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8} as Record<number, number>)[type];
  const header = 4 + 4 * dims.length;
  const buf = Buffer.alloc(header + values.length * size);
  buf[2] = type;
  buf[3] = dims.length;
  dims.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  for (let i = 0; i < values.length; i++) {
    const o = header + i * size;
    const v = values[i];
    if (type === 0x08) buf.writeUInt8(v, o);
    else if (type === 0x09) buf.writeInt8(v, o);
    else if (type === 0x0b) buf.writeInt16BE(v, o);
    else if (type === 0x0c) buf.writeInt32BE(v, o);
    else if (type === 0x0d) buf.writeFloatBE(v, o);
    else buf.writeDoubleBE(v, o);
  }
  return buf;
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-datasets-'));
});
afterAll(() => {
  fs.rmSync(tmp, {recursive: true, force: true});
});

function write(name: string, bytes: Buffer): string {
  const p = path.join(tmp, name);
  fs.mkdirSync(path.dirname(p), {recursive: true});
  fs.writeFileSync(p, bytes);
  return p;
}

describe('loadEmbeddedMnist', () => {
  it('holds 10,000 digits split 9,000 train / 1,000 test, 28x28', () => {
    const all = loadEmbeddedMnist();
    expect(all.n).toBe(datasets.EMBEDDED_MNIST_SIZE);
    expect(all.n).toBe(10000);
    expect([all.rows, all.cols]).toEqual([28, 28]);
    expect(all.images.length).toBe(all.n * 784);
    expect(all.labels.length).toBe(all.n);
    expect(loadEmbeddedMnist({split: 'train'}).n).toBe(9000);
    expect(loadEmbeddedMnist({split: 'test'}).n).toBe(datasets.EMBEDDED_MNIST_TEST_SIZE);
  });

  it('takes `count` examples with values in [0, 1] and balanced, interleaved labels', () => {
    const d = loadEmbeddedMnist({count: 2000, split: 'train'});
    expect(d.n).toBe(2000);
    expect(d.images).toBeInstanceOf(Float32Array);
    expect(d.labels).toBeInstanceOf(Int32Array);
    expect(d.images.length).toBe(2000 * 784);
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of d.images) {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    // Seeded: the loader's order is a mulberry32 permutation (partition seed 0, order seed 0 by
    // default), so the figures below are fixed, not sampled anew on each run.
    const mean = sum / d.images.length;
    expect(mean).toBeGreaterThan(0.05); // real digits: mostly background, some ink
    expect(mean).toBeLessThan(0.3);
    const counts = new Array(10).fill(0);
    for (const l of d.labels) counts[l]++;
    for (const c of counts) {
      expect(c).toBeGreaterThan(120); // 200 expected per class
      expect(c).toBeLessThan(300);
    }
    expect(new Set(d.labels.subarray(0, 50)).size).toBeGreaterThanOrEqual(8);
  });

  it('is deterministic for a seed and reorders for another seed', () => {
    const a = loadEmbeddedMnist({count: 300, seed: 7, split: 'train'});
    const b = loadEmbeddedMnist({count: 300, seed: 7, split: 'train'});
    const c = loadEmbeddedMnist({count: 300, seed: 8, split: 'train'});
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(Buffer.from(a.images.buffer).equals(Buffer.from(b.images.buffer))).toBe(true);
    expect(Array.from(a.labels)).not.toEqual(Array.from(c.labels));
    // Default seed 0 gives the partition order: 'all' is 'train' followed by 'test'.
    const all = loadEmbeddedMnist();
    const train = loadEmbeddedMnist({split: 'train', count: 5});
    const test = loadEmbeddedMnist({split: 'test', count: 5});
    expect(Array.from(all.images.subarray(0, 5 * 784))).toEqual(Array.from(train.images));
    expect(Array.from(all.images.subarray(9000 * 784, 9005 * 784))).toEqual(Array.from(test.images));
  });

  it('keeps train and test disjoint for any seed, and their union is everything', () => {
    const key = (img: Float32Array, i: number) => Buffer.from(img.buffer, img.byteOffset + i * 784 * 4, 784 * 4).toString('base64');
    const keys = (d: datasets.ImageDataset) => {
      const s = new Set<string>();
      for (let i = 0; i < d.n; i++) s.add(key(d.images, i));
      return s;
    };
    const train = keys(loadEmbeddedMnist({split: 'train', seed: 3}));
    const test = keys(loadEmbeddedMnist({split: 'test', seed: 5}));
    const testDefault = keys(loadEmbeddedMnist({split: 'test'}));
    let overlap = 0;
    for (const k of test) if (train.has(k)) overlap++;
    expect(overlap).toBe(0);
    expect([...test].every((k) => testDefault.has(k))).toBe(true);
    const all = keys(loadEmbeddedMnist());
    expect(train.size + test.size).toBe(all.size);
  });

  it('splits 8,000 / 2,000 with testSize 2000: disjoint, complete, the default test split its last half', () => {
    const key = (img: Float32Array, i: number) => Buffer.from(img.buffer, img.byteOffset + i * 784 * 4, 784 * 4).toString('base64');
    const train = loadEmbeddedMnist({split: 'train', testSize: 2000});
    const test = loadEmbeddedMnist({split: 'test', testSize: 2000});
    expect([train.n, test.n]).toEqual([8000, 2000]);
    const trainKeys = new Set<string>();
    for (let i = 0; i < train.n; i++) trainKeys.add(key(train.images, i));
    let overlap = 0;
    for (let i = 0; i < test.n; i++) if (trainKeys.has(key(test.images, i))) overlap++;
    expect(overlap).toBe(0);
    // 'all' in partition order is train followed by test, for any testSize.
    const all = loadEmbeddedMnist();
    expect(Buffer.from(all.images.buffer, 8000 * 784 * 4).equals(Buffer.from(test.images.buffer))).toBe(true);
    expect(Array.from(all.labels.subarray(0, 8000))).toEqual(Array.from(train.labels));
    // The default 1,000-digit test split is the last 1,000 of the 2,000.
    const test1000 = loadEmbeddedMnist({split: 'test'});
    expect(Buffer.from(test.images.buffer, 1000 * 784 * 4).equals(Buffer.from(test1000.images.buffer))).toBe(true);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    for (const c of counts) expect(c).toBeGreaterThan(130); // 200 expected per class (fixed partition, not resampled)
    for (const bad of [0, 10000, 1.5, NaN]) {
      expect(() => loadEmbeddedMnist({split: 'test', testSize: bad})).toThrow(`testSize must be an integer in [1, 9999]. Received: testSize=${bad}`);
    }
  });

  it('returns fresh arrays and rejects bad options', () => {
    const a = loadEmbeddedMnist({count: 1});
    a.images.fill(-1);
    expect(loadEmbeddedMnist({count: 1}).images[0]).toBeGreaterThanOrEqual(0);
    expect(() => loadEmbeddedMnist({count: 1001, split: 'test'})).toThrow(/count must be an integer in \[0, 1000\]/);
    expect(() => loadEmbeddedMnist({count: 1.5})).toThrow(/count/);
    expect(() => loadEmbeddedMnist({split: 'valid' as 'train'})).toThrow(/split/);
  });
});

describe('readIdx', () => {
  it('reads 3-D unsigned-byte images and 1-D labels', () => {
    const pixels = Array.from({length: 2 * 3 * 4}, (_, i) => (i * 11) % 256);
    const img = readIdx(write('img-idx3-ubyte', idxBytes(0x08, [2, 3, 4], pixels)));
    expect(img.dims).toEqual([2, 3, 4]);
    expect(img.type).toBe('ubyte');
    expect(img.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(img.data)).toEqual(pixels);
    const lab = readIdx(write('lab-idx1-ubyte', idxBytes(0x08, [5], [3, 1, 4, 1, 5])));
    expect(lab.dims).toEqual([5]);
    expect(Array.from(lab.data)).toEqual([3, 1, 4, 1, 5]);
  });

  it('gunzips gzip files transparently', () => {
    const pixels = Array.from({length: 2 * 2 * 2}, (_, i) => 255 - i);
    const p = write('img-idx3-ubyte.gz', zlib.gzipSync(idxBytes(0x08, [2, 2, 2], pixels)));
    const img = readIdx(p);
    expect(img.dims).toEqual([2, 2, 2]);
    expect(Array.from(img.data)).toEqual(pixels);
  });

  it('decodes big-endian multi-byte types', () => {
    const f = readIdx(write('float.idx', idxBytes(0x0d, [2, 2], [0.5, -1.25, 3e10, 0])));
    expect(f.type).toBe('float');
    expect(f.data).toBeInstanceOf(Float32Array);
    expect(Array.from(f.data)).toEqual([0.5, -1.25, Math.fround(3e10), 0]);
    const d = readIdx(write('double.idx', idxBytes(0x0e, [2], [Math.PI, -1e-300])));
    expect(d.data).toBeInstanceOf(Float64Array);
    expect(Array.from(d.data)).toEqual([Math.PI, -1e-300]);
    const s = readIdx(write('short.idx', idxBytes(0x0b, [3], [-2, 300, 32767])));
    expect(s.data).toBeInstanceOf(Int16Array);
    expect(Array.from(s.data)).toEqual([-2, 300, 32767]);
    const i = readIdx(write('int.idx', idxBytes(0x0c, [2], [-70000, 123456789])));
    expect(Array.from(i.data)).toEqual([-70000, 123456789]);
    const b = readIdx(write('byte.idx', idxBytes(0x09, [2], [-128, 127])));
    expect(Array.from(b.data)).toEqual([-128, 127]);
  });

  it('reports truncated data with the file name', () => {
    const full = idxBytes(0x08, [2, 3, 3], new Array(18).fill(1));
    const p = write('short-data-idx3-ubyte', full.subarray(0, full.length - 4));
    expect(() => readIdx(p)).toThrow(p);
    expect(() => readIdx(p)).toThrow(/truncated IDX data.*need 18 data bytes, found 14/);
    const h = write('short-header', full.subarray(0, 10));
    expect(() => readIdx(h)).toThrow(/truncated IDX header/);
    const gz = write('short-gz.gz', zlib.gzipSync(full).subarray(0, 20));
    expect(() => readIdx(gz)).toThrow(/short-gz\.gz: corrupt gzip data/);
    // A complete gzip stream of a truncated IDX file: gunzips, then fails on the data size.
    const gzData = write('short-data-idx3-ubyte.gz', zlib.gzipSync(full.subarray(0, full.length - 4)));
    expect(() => readIdx(gzData)).toThrow(/short-data-idx3-ubyte\.gz: truncated IDX data.*need 18 data bytes, found 14/);
    const gzHeader = write('short-header.gz', zlib.gzipSync(full.subarray(0, 6)));
    expect(() => readIdx(gzHeader)).toThrow(/short-header\.gz: truncated IDX header \(6 bytes, 3 dimensions need 16\)/);
    const empty = write('empty', Buffer.alloc(0));
    expect(() => readIdx(empty)).toThrow(/empty: truncated IDX header \(0 bytes, need at least 4\)/);
  });

  it('reports bad magic and unsupported types with the file name', () => {
    const bad = idxBytes(0x08, [1], [0]);
    bad[0] = 0x12;
    const p = write('bad-magic', bad);
    expect(() => readIdx(p)).toThrow(p);
    expect(() => readIdx(p)).toThrow(/bad IDX magic number \(first bytes 12 00 08 01; expected 00 00 <type> <ndims>\)/);
    // A gzipped file with a wrong magic (e.g. a PNG renamed), and a text file.
    const gzBad = write('bad-magic.gz', zlib.gzipSync(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0])));
    expect(() => readIdx(gzBad)).toThrow(/bad-magic\.gz: bad IDX magic number \(first bytes 89 50 4e 47/);
    expect(() => readIdx(write('text', Buffer.from('hello world\n')))).toThrow(/text: bad IDX magic/);
    const t = idxBytes(0x08, [1], [0]);
    t[2] = 0x0a;
    const q = write('bad-type', t);
    expect(() => readIdx(q)).toThrow(/bad-type: unsupported IDX data type 0x0a/);
    const extra = write('extra', Buffer.concat([idxBytes(0x08, [1], [0]), Buffer.from([9])]));
    expect(() => readIdx(extra)).toThrow(/1 unexpected bytes/);
  });
});

describe('loadIdxDataset', () => {
  const n = 4;
  const rows = 3;
  const cols = 2;
  const pixels = Array.from({length: n * rows * cols}, (_, i) => (i * 37) % 256);
  const labels = [7, 0, 9, 2];

  it('reads dash-named, gzipped files and normalizes to [0, 1]', () => {
    const dir = path.join(tmp, 'dash');
    write('dash/train-images-idx3-ubyte.gz', zlib.gzipSync(idxBytes(0x08, [n, rows, cols], pixels)));
    write('dash/train-labels-idx1-ubyte.gz', zlib.gzipSync(idxBytes(0x08, [n], labels)));
    const d = loadIdxDataset(dir, {split: 'train'});
    expect([d.n, d.rows, d.cols]).toEqual([n, rows, cols]);
    expect(d.images).toBeInstanceOf(Float32Array);
    expect(d.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(d.labels)).toEqual(labels);
    expect(Array.from(d.images)).toEqual(pixels.map((v) => Math.fround(v / 255)));
    const raw = loadIdxDataset(dir, {normalize: false});
    expect(Array.from(raw.images)).toEqual(pixels);
  });

  it('reads dot-named plain test files', () => {
    const dir = path.join(tmp, 'dot');
    write('dot/t10k-images.idx3-ubyte', idxBytes(0x08, [n, rows, cols], pixels));
    write('dot/t10k-labels.idx1-ubyte', idxBytes(0x08, [n], labels));
    const d = loadIdxDataset(dir, {split: 'test'});
    expect(d.n).toBe(n);
    expect(Array.from(d.labels)).toEqual(labels);
    expect(() => loadIdxDataset(dir, {split: 'train'})).toThrow(/train-images-idx3-ubyte, train-images\.idx3-ubyte/);
  });

  it('lists the names looked for when files are missing and checks counts agree', () => {
    const dir = path.join(tmp, 'mismatch');
    write('mismatch/train-images-idx3-ubyte', idxBytes(0x08, [n, rows, cols], pixels));
    expect(() => loadIdxDataset(dir)).toThrow(/no train labels \(looked for train-labels-idx1-ubyte, train-labels\.idx1-ubyte, train-labels-idx1-ubyte\.gz, train-labels\.idx1-ubyte\.gz\)/);
    write('mismatch/train-labels-idx1-ubyte', idxBytes(0x08, [n - 1], labels.slice(1)));
    expect(() => loadIdxDataset(dir)).toThrow(/holds 4 images but .* holds 3 labels/);
    expect(() => loadIdxDataset(dir, {split: 'val' as 'train'})).toThrow(/split/);
  });

  it('names the file whose dimension count is wrong', () => {
    const dir = path.join(tmp, 'dims');
    const images = write('dims/train-images-idx3-ubyte', idxBytes(0x08, [n, rows * cols], pixels));
    const labelsFile = write('dims/train-labels-idx1-ubyte', idxBytes(0x08, [n], labels));
    expect(() => loadIdxDataset(dir)).toThrow(`${images}: expected 3 dimensions [n, rows, cols], got [4, 6]`);
    write('dims/train-images-idx3-ubyte', idxBytes(0x08, [n, rows, cols], pixels));
    write('dims/train-labels-idx1-ubyte', idxBytes(0x08, [n, 1], labels));
    expect(() => loadIdxDataset(dir)).toThrow(`${labelsFile}: expected 1 dimension [n], got [4, 1]`);
  });

  it('rejects float labels and non-byte pixels when normalizing', () => {
    const dir = path.join(tmp, 'types');
    write('types/train-images-idx3-ubyte', idxBytes(0x0d, [n, rows, cols], pixels));
    write('types/train-labels-idx1-ubyte', idxBytes(0x0d, [n], labels));
    expect(() => loadIdxDataset(dir)).toThrow(/labels must be integers, got IDX type float/);
    write('types/train-labels-idx1-ubyte', idxBytes(0x08, [n], labels));
    expect(() => loadIdxDataset(dir)).toThrow(/normalize expects unsigned-byte pixels, got IDX type float/);
    expect(Array.from(loadIdxDataset(dir, {normalize: false}).images)).toEqual(pixels);
  });
});

describe('dataset locations', () => {
  const saved = {f: process.env.FASHION_MNIST_DIR, m: process.env.MNIST_DIR};
  afterEach(() => {
    for (const [k, v] of [['FASHION_MNIST_DIR', saved.f], ['MNIST_DIR', saved.m]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('honours MNIST_DIR and FASHION_MNIST_DIR', () => {
    delete process.env.MNIST_DIR;
    expect(mnistIdxDir()).toBeNull();
    process.env.MNIST_DIR = tmp;
    expect(mnistIdxDir()).toBe(path.resolve(tmp));
    process.env.FASHION_MNIST_DIR = tmp;
    expect(fashionMnistDir()).toBe(path.resolve(tmp));
    process.env.FASHION_MNIST_DIR = path.join(tmp, 'does-not-exist');
    expect(() => fashionMnistDir()).toThrow(/FASHION_MNIST_DIR=.*is not a directory/);
  });

  let fashionDir: string | null = null;
  try {
    fashionDir = fashionMnistDir();
  } catch (e) {
    // eslint-disable-next-line no-console
    console.warn(String(e));
  }
  const itIf = fashionDir ? it : it.skip;
  if (!fashionDir) {
    // eslint-disable-next-line no-console
    console.warn('Fashion-MNIST not found (install Debian package dataset-fashion-mnist or set FASHION_MNIST_DIR): skipping its test');
  }

  itIf('loads Fashion-MNIST: 60,000 train / 10,000 test, 28x28', () => {
    const train = loadIdxDataset(fashionDir as string, {split: 'train'});
    const test = loadIdxDataset(fashionDir as string, {split: 'test'});
    expect([train.n, train.rows, train.cols]).toEqual([60000, 28, 28]);
    expect([test.n, test.rows, test.cols]).toEqual([10000, 28, 28]);
    expect(train.images.length).toBe(60000 * 784);
    let max = 0;
    for (let i = 0; i < 784 * 100; i++) max = Math.max(max, test.images[i]);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.5);
    const counts = new Array(10).fill(0);
    for (const l of train.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(6000));
  });
});
