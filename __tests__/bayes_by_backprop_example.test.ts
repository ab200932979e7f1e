/**
 * The Bayes-by-Backprop example (examples/bayes-by-backprop/train.mjs) run as
 * a child process in quick mode: a few hundred Fashion-MNIST images, one
 * epoch, a few Monte Carlo samples; it must exit 0, print the metrics of both
 * MLPs (and, in a one-step run, of both CNNs), write results-{mlp,cnn}.json
 * consistent with the printout and two non-blank PNGs per pair, and leak no tensor.
 * Without Debian's dataset-fashion-mnist, the run reads a small synthetic IDX
 * set written here (through --data) instead.
 */
import {spawnSync, SpawnSyncReturns} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {PNG} from 'pngjs';

import {mulberry32} from './helpers/random';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'examples', 'bayes-by-backprop', 'train.mjs');
const DIST = path.join(ROOT, 'dist', 'tfjs-variational.mjs');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const datasets = require(path.join(ROOT, 'examples', 'shared', 'datasets.cjs')) as {fashionMnistDir(): string|null};

function run(args: string[], timeoutMs: number): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], {cwd: ROOT, encoding: 'utf8', timeout: timeoutMs});
  if (r.error) throw r.error;
  return r;
}

function idx(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return zlib.gzipSync(Buffer.concat([header, Buffer.from(data)]));
}

/** Fashion-MNIST-shaped IDX files: class k lights rows 2k..2k+3, plus noise. */
function writeSyntheticIdx(dir: string): void {
  const rand = mulberry32(3);
  for (const [prefix, n] of [['train', 600], ['t10k', 200]] as const) {
    const images = new Uint8Array(n * 784);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const k = Math.floor(rand() * 10);
      labels[i] = k;
      for (let p = 0; p < 784; p++) {
        const row = Math.floor(p / 28);
        images[i * 784 + p] = row >= 2 * k && row < 2 * k + 4 ? 200 + Math.floor(rand() * 55) : Math.floor(rand() * 40);
      }
    }
    fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte.gz`), idx([n, 28, 28], images));
    fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte.gz`), idx([n], labels));
  }
}

/** A PNG of a real chart: a few hundred pixels a side, a real share of them inked, in several colours. */
function expectChart(file: string): void {
  const png = PNG.sync.read(fs.readFileSync(file));
  expect(png.width).toBeGreaterThan(200);
  expect(png.height).toBeGreaterThan(200);
  let inked = 0;
  const colours = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) {
    const [red, green, blue] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    if (red < 240 || green < 240 || blue < 240) inked++;
    colours.add((red >> 4) << 8 | (green >> 4) << 4 | blue >> 4);
  }
  expect(inked / (png.width * png.height)).toBeGreaterThan(0.02);
  expect(colours.size).toBeGreaterThan(20);
}

/** Arguments that point the script at a synthetic data set when Debian's Fashion-MNIST is missing. */
function dataArgs(tmp: string): string[] {
  if (datasets.fashionMnistDir() !== null) return [];
  const data = path.join(tmp, 'data');
  fs.mkdirSync(data);
  writeSyntheticIdx(data);
  return ['--data', data];
}

/** `| mlp-bnn | 75.20% | 0.6739 | 6.56% | 0.9778 | 0.5084 | 5 |` */
const ROW = /^\| (mlp-bnn|mlp-det) \| (\S+)% \| (\S+) \| (\S+)% \| (\S+) \| (\S+) \| (\d+) \|$/;

beforeAll(() => {
  // `npm test` builds first; a bare `jest` run builds only when dist is missing.
  if (!fs.existsSync(DIST)) {
    const r = spawnSync('npm', ['run', 'build'], {cwd: ROOT, encoding: 'utf8', timeout: 180000});
    if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
  }
}, 200000);

describe('examples/bayes-by-backprop/train.mjs', () => {
  let tmp: string;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-bbb-'));
  });

  afterEach(() => {
    fs.rmSync(tmp, {recursive: true, force: true});
  });

  it('trains both MLPs for one epoch on wasm, prints the metrics, writes results-mlp.json and two PNGs', () => {
    const out = path.join(tmp, 'out');
    const args = ['--model', 'mlp', '--epochs', '1', '--limit-train', '300', '--validation', '100', '--limit-test', '200',
      '--samples', '3', '--backend', 'wasm', '--seed', '1', '--out', out, ...dataArgs(tmp)];
    const r = run(args, 120000);
    if (r.status !== 0) {
      throw new Error(`exit code ${r.status} (signal ${r.signal})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    }
    expect(r.stdout).toMatch(/^backend wasm /);
    expect(r.stdout).toMatch(/300 training, 100 validation, 200 test images; OOD: 200 MNIST digits/);
    // One line per epoch: the BNN's negative ELBO per example and its terms (which add up), the MLP's NLL.
    const bnn = /^mlp-bnn epoch 1\/1 {2}loss \(−ELBO\/N\) (\S+) = NLL (\S+) \+ KL\/N (\S+) {2}accuracy (\S+) .* s$/m.exec(r.stdout);
    expect(bnn).not.toBeNull();
    const [elbo, nllTerm, klTerm, trainAccuracy] = bnn!.slice(1, 5).map(Number);
    expect(klTerm).toBeGreaterThan(0);
    expect(nllTerm).toBeGreaterThan(0);
    expect(Math.abs(nllTerm + klTerm - elbo)).toBeLessThanOrEqual(2e-4 * (1 + elbo));
    expect(trainAccuracy).toBeGreaterThanOrEqual(0);
    expect(trainAccuracy).toBeLessThanOrEqual(1);
    expect(r.stdout).toMatch(/^mlp-det epoch 1\/1 {2}loss \(NLL\) \d+\.\d+ {2}accuracy 0\.\d+ .* s$/m);

    const rows = r.stdout.split('\n').map((l) => ROW.exec(l)).filter((m): m is RegExpExecArray => m !== null);
    expect(rows.map((m) => m[1])).toEqual(['mlp-bnn', 'mlp-det']);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'results-mlp.json'), 'utf8'));
    for (const m of rows) {
      const [accuracy, nll, ece, aurocH] = [m[2], m[3], m[4], m[5]].map(Number);
      const bayesian = m[1] === 'mlp-bnn';
      expect(accuracy).toBeGreaterThanOrEqual(0);
      expect(accuracy).toBeLessThanOrEqual(100);
      expect(nll).toBeGreaterThan(0);
      expect(Number.isFinite(nll)).toBe(true);
      expect(ece).toBeGreaterThanOrEqual(0);
      expect(ece).toBeLessThanOrEqual(100);
      expect(aurocH).toBeGreaterThanOrEqual(0);
      expect(aurocH).toBeLessThanOrEqual(1);
      expect(Number(m[7])).toBe(bayesian ? 3 : 1);
      if (bayesian) {
        expect(Number(m[6])).toBeGreaterThanOrEqual(0);
        expect(Number(m[6])).toBeLessThanOrEqual(1);
      } else {
        expect(m[6]).toBe('–');
      }

      // results-mlp.json holds the printed figures, and its ECE is the one of its own reliability bins.
      const saved = summary.models.find((s: {name: string}) => s.name === m[1]);
      expect(100 * saved.accuracy).toBeCloseTo(accuracy, 2);
      expect(saved.nll).toBeCloseTo(nll, 4);
      expect(100 * saved.ece).toBeCloseTo(ece, 2);
      expect(saved.aurocEntropy).toBeCloseTo(aurocH, 4);
      const bins = saved.reliability as {count: number, accuracy: number|null, confidence: number|null}[];
      expect(bins).toHaveLength(15);
      const n = bins.reduce((s, b) => s + b.count, 0);
      expect(n).toBe(200);
      const filled = bins.filter((b) => b.count > 0) as {count: number, accuracy: number, confidence: number}[];
      const eceFromBins = filled.reduce((s, b) => s + (b.count / n) * Math.abs(b.accuracy - b.confidence), 0);
      expect(eceFromBins).toBeCloseTo(saved.ece, 6);
      const right = filled.reduce((s, b) => s + b.count * b.accuracy, 0);
      expect(right / n).toBeCloseTo(saved.accuracy, 6);
    }

    for (const file of ['reliability-mlp.png', 'entropy-mlp.png']) expectChart(path.join(out, file));
    expect(r.stdout).toMatch(/tensors left 0$/m);
  }, 150000);

  it('trains both CNNs (Bayesian convolutions on wasm) for one step and writes their results and PNGs', () => {
    const out = path.join(tmp, 'out');
    const r = run(['--model', 'cnn', '--epochs', '1', '--limit-train', '128', '--validation', '64', '--limit-test', '100',
      '--samples', '2', '--backend', 'wasm', '--out', out, ...dataArgs(tmp)], 120000);
    if (r.status !== 0) {
      throw new Error(`exit code ${r.status} (signal ${r.signal})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    }
    expect(r.stdout).toMatch(/^cnn-bnn epoch 1\/1 {2}loss \(−ELBO\/N\) \S+ = NLL \S+ \+ KL\/N \S+ {2}accuracy /m);
    const rows = r.stdout.split('\n').filter((l) => /^\| cnn-(bnn|det) \|/.test(l));
    expect(rows).toHaveLength(2);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'results-cnn.json'), 'utf8'));
    expect(summary.models.map((m: {name: string}) => m.name)).toEqual(['cnn-bnn', 'cnn-det']);
    for (const m of summary.models) {
      for (const v of [m.accuracy, m.nll, m.ece, m.aurocEntropy]) expect(Number.isFinite(v)).toBe(true);
    }
    expect(summary.models[0].samples).toBe(2);
    for (const file of ['reliability-cnn.png', 'entropy-cnn.png']) expectChart(path.join(out, file));
    expect(r.stdout).toMatch(/tensors left 0$/m);
  }, 150000);

  it('names the missing data directory and the Debian package (exit code 1)', () => {
    const r = run(['--data', path.join(tmp, 'nowhere'), '--limit-train', '10'], 60000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--data .*nowhere is not a directory/);
    fs.mkdirSync(path.join(tmp, 'empty'));
    const e = run(['--data', path.join(tmp, 'empty'), '--limit-train', '10'], 60000);
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(/apt-get install dataset-fashion-mnist/);
  }, 130000);

  it('rejects a bad option with the usage (exit code 2)', () => {
    const r = run(['--model', 'rnn'], 60000);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--model must be one of mlp, cnn, both\. Received: --model=rnn/);
    expect(r.stderr).toMatch(/Usage: node examples\/bayes-by-backprop\/train\.mjs/);
  }, 70000);
});
