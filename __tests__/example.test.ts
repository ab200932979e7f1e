/**
 * The main job, examples/mnist-vae/train.mjs, run as a child process the way a
 * user runs it (stdout piped, so no progress bar): a quick training on a few
 * embedded digits writes valid, non-blank pictures of the expected sizes, a
 * metrics.json with every epoch's terms and the final figures, and a model
 * that --resume continues; --help lists the options; bad options, bad IDX
 * data and an unavailable backend fail with messages naming the cause.
 */
import {spawnSync, SpawnSyncReturns} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {PNG} from 'pngjs';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'examples', 'mnist-vae', 'train.mjs');
const DIST = path.join(ROOT, 'dist', 'tfjs-variational.mjs');

function run(args: string[], timeoutMs = 60000): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], {cwd: ROOT, encoding: 'utf8', timeout: timeoutMs});
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>): string {
  if (r.status !== 0) throw new Error(`exit code ${r.status} (signal ${r.signal})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

/** `epoch 1/2  train -ELBO 494.87 (reconstruction 479.22 + KL 15.65)  val -ELBO 398.20 (reconstruction 339.70 + KL 58.50)  time 0.3 s (cpu 0.3 s)` */
const EPOCH_LINE = new RegExp('^epoch\\s+(\\d+)/(\\d+)\\s+(?:train -L_\\d+ \\S+\\s+val -L_\\d+ \\S+\\s+)?' +
    'train -ELBO (\\S+) \\(reconstruction (\\S+) \\+ KL (\\S+)\\)\\s+val -ELBO (\\S+) \\(reconstruction (\\S+) \\+ KL (\\S+)\\)\\s+time (\\S+) s');

function epochLines(stdout: string) {
  return stdout.split('\n').map((l) => EPOCH_LINE.exec(l)).filter((m): m is RegExpExecArray => m != null).map((m) => {
    const v = m.slice(1).map(Number);
    return {epoch: v[0], of: v[1], train: v[2], trainRec: v[3], trainKL: v[4], val: v[5], valRec: v[6], valKL: v[7], seconds: v[8]};
  });
}

/** Decodes a PNG: size, fraction of pixels far from the median grey level, and the grey levels' spread. */
function inspectPng(file: string) {
  const png = PNG.sync.read(fs.readFileSync(file));
  const n = png.width * png.height;
  let sum = 0;
  let sumSq = 0;
  let notWhite = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const g = (png.data[i] + png.data[i + 1] + png.data[i + 2]) / 3;
    sum += g;
    sumSq += g * g;
    if (g < 235) notWhite++;
  }
  const mean = sum / n;
  return {width: png.width, height: png.height, notWhite: notWhite / n, std: Math.sqrt(Math.max(0, sumSq / n - mean * mean))};
}

/** Builds an IDX file: magic 00 00 type ndims, big-endian uint32 dims, unsigned bytes. */
function idx(dims: number[], fill: (i: number) => number): Buffer {
  const size = dims.reduce((a, b) => a * b, 1);
  const buf = Buffer.alloc(4 + 4 * dims.length + size);
  buf[2] = 0x08;
  buf[3] = dims.length;
  dims.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  for (let i = 0; i < size; i++) buf[4 + 4 * dims.length + i] = fill(i);
  return buf;
}

let tmp: string;

beforeAll(() => {
  // `npm test` builds first; a bare `jest` run builds only when dist is missing.
  if (!fs.existsSync(DIST)) {
    const r = spawnSync('npm', ['run', 'build'], {cwd: ROOT, encoding: 'utf8', timeout: 180000});
    if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-example-'));
}, 200000);

afterAll(() => {
  fs.rmSync(tmp, {recursive: true, force: true});
});

describe('examples/mnist-vae/train.mjs', () => {
  const QUICK = ['--train-count', '1000', '--test-count', '300', '--ll-samples', '20', '--ll-count', '100', '--backend', 'wasm'];

  it('trains quickly, writes latent.png, manifold.png, loss.png, metrics.json and the model; --resume continues', () => {
    const out = path.join(tmp, 'run');
    const stdout = ok(run(['--epochs', '2', '--seed', '1', '--out', out, ...QUICK]));
    // Piped output: no progress bar, no control characters.
    expect(stdout).not.toMatch(/[\u001b\r]/);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^backend: wasm \(requested with --backend\)/);
    expect(stdout).toContain('1000 train, 300 test');
    const epochs = epochLines(stdout);
    expect(epochs.map((e) => [e.epoch, e.of])).toEqual([[1, 2], [2, 2]]);
    for (const e of epochs) {
      // Below 784·ln 2 ≈ 543 nats (a coin flip per pixel), above 0; the printed terms (2 decimals) add up.
      expect(e.val).toBeGreaterThan(0);
      expect(e.val).toBeLessThan(600);
      expect(e.valKL).toBeGreaterThan(0);
      expect(Math.abs(e.valRec + e.valKL - e.val)).toBeLessThanOrEqual(0.011);
      expect(Math.abs(e.trainRec + e.trainKL - e.train)).toBeLessThanOrEqual(0.011);
    }
    expect(epochs[1].val).toBeLessThan(epochs[0].val);
    expect(stdout).toMatch(/test -ELBO \(tfv\.evaluateObjective, 300 images\): \S+ = reconstruction \S+ \+ KL \S+ nats/);
    expect(stdout).toMatch(/test -log p\(x\) \(tfv\.estimateLogLikelihood, 20 samples, 100 images\): \S+ ± \S+ nats/);

    // Pictures: valid PNGs of the recorded sizes, not blank.
    const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    for (const name of ['latent.png', 'manifold.png', 'loss.png']) {
      const png = inspectPng(path.join(out, name));
      expect([name, png.width, png.height]).toEqual([name, ...metrics.pictures.sizes[name]]);
      expect(png.width).toBeGreaterThan(400);
      expect(png.height).toBeGreaterThan(300);
      expect(png.notWhite).toBeGreaterThan(0.01);
      expect(png.std).toBeGreaterThan(10);
    }
    // The manifold: 15 × 15 digits of 28 × 28 pixels, with margins for the title and the axes.
    const manifold = inspectPng(path.join(out, 'manifold.png'));
    expect(manifold.width).toBeGreaterThan(420);
    expect(manifold.height).toBeGreaterThan(420);
    expect(metrics.pictures.manifold).toMatch(/15×15 grid of Gaussian quantiles/);

    // metrics.json: options, backend, per-epoch terms, final figures, times.
    expect(metrics.options).toMatchObject({epochs: 2, latent: 2, hidden: 512, posterior: 'gaussian', objective: 'elbo', seed: 1});
    expect(metrics.epochs.map((e: {epoch: number}) => e.epoch)).toEqual([1, 2]);
    metrics.epochs.forEach((e: any, i: number) => {
      expect(e.validation.negativeElbo).toBeCloseTo(epochs[i].val, 1);
      for (const v of [e.train.loss, e.train.negativeElbo, e.train.reconstruction, e.train.kl, e.validation.kl, e.seconds]) {
        expect(Number.isFinite(v)).toBe(true);
      }
    });
    const {test, logLikelihood} = metrics.final;
    expect(test.images).toBe(300);
    // With the ELBO and β = 1, evaluateObjective's data term is the reconstruction and its loss the -ELBO.
    expect(Math.abs(test.reconstruction - test.dataTerm)).toBeLessThan(1e-3);
    expect(Math.abs(test.loss - test.negativeElbo)).toBeLessThan(1e-3);
    expect(test.kl).toBeGreaterThan(0);
    expect(logLikelihood).toMatchObject({samples: 20, images: 100});
    // log-mean-exp ≥ mean-log on the same draws (Jensen): the estimate's -log p(x) is at most the same draws' -ELBO.
    expect(logLikelihood.negativeLogLikelihood).toBeLessThanOrEqual(logLikelihood.negativeElbo);
    expect(logLikelihood.standardError).toBeGreaterThan(0);
    expect(metrics.runs).toHaveLength(1);
    expect(metrics.backend).toEqual({backend: 'wasm', reason: 'requested with --backend'});
    expect(metrics.runs[0].backend.backend).toBe('wasm');
    expect(metrics.runs[0].times.trainSeconds).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(out, 'model', 'model.json'))).toBe(true);
    expect(stdout).toContain('reloaded: weights identical');

    // --resume: loads the model, says the optimizer starts afresh, appends epoch 3 to the same metrics.
    const resumed = ok(run(['--resume', out, '--epochs', '1', '--ll-samples', '0', '--backend', 'wasm']));
    expect(resumed).toMatch(/resumed: .*model\.json after 2 epoch\(s\); the weights are the saved ones, the Adam optimizer starts afresh/);
    expect(epochLines(resumed).map((e) => [e.epoch, e.of])).toEqual([[3, 3]]);
    const after = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    expect(after.epochs.map((e: {epoch: number}) => e.epoch)).toEqual([1, 2, 3]);
    expect(after.epochs.slice(0, 2)).toEqual(metrics.epochs);
    expect(after.runs).toHaveLength(2);
    expect(after.runs[1]).toMatchObject({startedAtEpoch: 2, epochs: 1});
    expect(after.options).toMatchObject({seed: 1, trainCount: 1000, testCount: 300});
    // The resumed model continues from trained weights: its first epoch is far below a fresh model's first.
    expect(after.epochs[2].validation.negativeElbo).toBeLessThan(metrics.epochs[0].validation.negativeElbo);

    // A resumed run cannot change the architecture.
    const clash = run(['--resume', out, '--latent', '3']);
    expect(clash.status).toBe(2);
    expect(clash.stderr).toContain('--latent must match the resumed model (2). Received: --latent=3');
  }, 120000);

  it('trains a planar-flow posterior with the IWAE bound and a 3-D latent, saying how the manifold is drawn', () => {
    const out = path.join(tmp, 'flows');
    const stdout = ok(run(['--epochs', '1', '--posterior', 'planar', '--flows', '2', '--objective', 'iwae', '--samples', '3',
      '--latent', '3', '--hidden', '64', '--out', out, '--train-count', '256', '--test-count', '64', '--ll-samples', '10',
      '--ll-count', '32', '--backend', 'wasm']));
    expect(stdout).toContain('planar flow posterior (K = 2)');
    expect(stdout).toContain('IWAE bound, k = 3');
    expect(epochLines(stdout)).toHaveLength(1);
    expect(stdout).toMatch(/^epoch 1\/1  train -L_3 \S+  val -L_3 \S+  train -ELBO/m);
    expect(stdout).toContain('manifold.png: Decoder means on a 15×15 grid of Gaussian quantiles z1, z2 at the standard normal quantiles of 0.05 … 0.95; z3 held at 0');
    const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    expect(metrics.pictures.latent).toContain('first 2 of 3 dimensions');
    expect(metrics.options).toMatchObject({posterior: 'planar', flows: 2, objective: 'iwae', samples: 3});
    // On the same draws the IWAE bound is at least the k-sample ELBO (log-mean-exp ≥ mean-log): -L_3 ≤ -ELBO.
    expect(Number.isFinite(metrics.final.test.loss)).toBe(true);
    expect(metrics.final.test.loss).toBeLessThanOrEqual(metrics.final.test.negativeElbo + 1e-3);
    // With a bound loss the data term is the negative bound (so the printed reconstruction is the ELBO's, not it).
    expect(metrics.final.test.dataTerm).toBeCloseTo(metrics.final.test.loss, 6);
    expect(stdout).toMatch(/test -ELBO \(tfv\.evaluateObjective, 64 images\): \S+ = reconstruction \S+ \+ KL \S+ nats; -L_3 \S+/);
    expect(inspectPng(path.join(out, 'manifold.png')).std).toBeGreaterThan(10);
  }, 60000);

  it('trains an IAF posterior (--posterior iaf) and draws its flowed means', () => {
    const out = path.join(tmp, 'iaf');
    const stdout = ok(run(['--epochs', '1', '--posterior', 'iaf', '--flows', '2', '--hidden', '64', '--out', out,
      '--train-count', '256', '--test-count', '64', '--ll-samples', '10', '--ll-count', '32', '--backend', 'wasm']));
    expect(stdout).toContain('IAF flow posterior (K = 2)');
    const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    expect(metrics.options).toMatchObject({posterior: 'iaf', flows: 2, objective: 'elbo', samples: 1});
    expect(metrics.pictures.latent).toMatch(/^Test-set flowed means f\(μ\(x\)\), 64 images/);
    expect(metrics.final.logLikelihood.negativeLogLikelihood).toBeLessThanOrEqual(metrics.final.logLikelihood.negativeElbo);
    expect(inspectPng(path.join(out, 'latent.png')).notWhite).toBeGreaterThan(0.01);
  }, 60000);

  it('--help lists every option and exits with 0', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--epochs', '--batch-size', '--latent', '--hidden', '--lr', '--kl-weight', '--seed', '--posterior',
      '--flows', '--objective', '--samples', '--data', '--train-count', '--test-count', '--backend', '--out', '--resume',
      '--ll-samples', '--ll-count', '--no-progress', '--quiet', '--help']) {
      expect(r.stdout).toContain(flag);
    }
    // Commander wraps the descriptions at 80 columns when stdout is not a terminal.
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('(choices: "gaussian", "planar", "iaf", default: "gaussian")');
  }, 30000);

  it('rejects bad options with exit code 2 and names them', () => {
    const cases: Array<[string[], string]> = [
      [['--batch-size', '0'], '--batch-size must be a positive integer. Received: --batch-size=0'],
      [['--epoch', '3'], "unknown option '--epoch'"],
      [['--posterior', 'radial'], "option '--posterior <kind>' argument 'radial' is invalid. Allowed choices are gaussian, planar, iaf."],
      [['--lr', '-1'], '--lr must be a positive number. Received: --lr=-1'],
      [['--flows', '4'], '--flows needs --posterior planar or iaf'],
      [['--objective', 'iwae', '--kl-weight', '0.5'], '--kl-weight applies to the ELBO only'],
      [['--data', path.join(tmp, 'does-not-exist')], '--data must be a directory of IDX files'],
    ];
    for (const [args, message] of cases) {
      const r = run(args, 30000);
      expect([args.join(' '), r.status]).toEqual([args.join(' '), 2]);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain('Run with --help for the list of options.');
    }
  }, 60000);

  it('--data: a truncated gzipped or a wrong-magic IDX file is a clear error (exit code 1)', () => {
    const make = (name: string, images: Buffer) => {
      const dir = path.join(tmp, name);
      fs.mkdirSync(dir, {recursive: true});
      fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), zlib.gzipSync(images));
      fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte.gz'), zlib.gzipSync(idx([3], (i) => i)));
      return dir;
    };
    const full = idx([3, 28, 28], (i) => i % 256);
    const truncated = make('truncated', full.subarray(0, full.length - 100));
    let r = run(['--data', truncated], 30000);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`--data ${truncated}: ${path.join(truncated, 'train-images-idx3-ubyte.gz')}: truncated IDX data: ` +
        'dims [3, 28, 28] of ubyte need 2352 data bytes, found 2252');
    const badMagic = Buffer.from(full);
    badMagic[0] = 0x1a;
    const wrong = make('wrong-magic', badMagic);
    r = run(['--data', wrong], 30000);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${path.join(wrong, 'train-images-idx3-ubyte.gz')}: bad IDX magic number (first bytes 1a 00 08 03`);
    // Complete training files but no test files: the names looked for.
    const noTest = make('no-test', full);
    r = run(['--data', noTest], 30000);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`no test images (looked for t10k-images-idx3-ubyte`);
  }, 60000);

  it('fails with exit code 1 and a clear message when an explicit backend is unavailable', () => {
    // @tensorflow/tfjs-node is an optional peer that this repository does not install.
    let hasNode = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      hasNode = false;
    }
    if (hasNode) return;
    const r = run(['--backend', 'tensorflow', '--epochs', '1', '--train-count', '10', '--test-count', '10'], 30000);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--backend tensorflow: @tensorflow/tfjs-node-gpu and @tensorflow/tfjs-node are not installed');
  }, 30000);
});
