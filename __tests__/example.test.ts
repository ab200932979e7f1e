/**
 * The MNIST VAE example (examples/mnist-vae/train.mjs) run end to end as a
 * child process, the way a user runs it: a short training on the embedded
 * digits with the wasm backend, the full objective, a save and a reload.
 */
import {spawnSync, SpawnSyncReturns} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'examples', 'mnist-vae', 'train.mjs');
const DIST = path.join(ROOT, 'dist', 'tfjs-variational.mjs');

function run(args: string[], timeoutMs: number): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], {cwd: ROOT, encoding: 'utf8', timeout: timeoutMs});
  if (r.error) throw r.error;
  return r;
}

/** `epoch 1/2  train -ELBO 505.75  val -ELBO 428.49  time 7.9 s (cpu 7.8 s)` */
const EPOCH_LINE =
    /^epoch\s+(\d+)\/(\d+)\s+train -ELBO (\S+)\s+val -ELBO (\S+) \(reconstruction (\S+) \+ KL (\S+)\)\s+time (\S+) s/;

beforeAll(() => {
  // `npm test` builds first; a bare `jest` run builds only when dist is missing.
  if (!fs.existsSync(DIST)) {
    const r = spawnSync('npm', ['run', 'build'], {cwd: ROOT, encoding: 'utf8', timeout: 180000});
    if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
  }
}, 200000);

describe('examples/mnist-vae/train.mjs', () => {
  let saveDir: string;

  beforeEach(() => {
    saveDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-example-'));
  });

  afterEach(() => {
    fs.rmSync(saveDir, {recursive: true, force: true});
  });

  it('trains 2 epochs on wasm, lowers the validation negative ELBO, saves and reloads', () => {
    const modelDir = path.join(saveDir, 'vae');
    const r = run(['--epochs', '2', '--train-count', '1000', '--test-count', '200', '--backend', 'wasm',
      '--seed', '1', '--save', modelDir], 90000);
    if (r.status !== 0) {
      throw new Error(`exit code ${r.status} (signal ${r.signal})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    }

    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^backend: wasm /);
    const epochs = lines.map((l) => EPOCH_LINE.exec(l)).filter((m): m is RegExpExecArray => m != null).map((m) => ({
      epoch: Number(m[1]), of: Number(m[2]), loss: Number(m[3]), valLoss: Number(m[4]),
      valReconstruction: Number(m[5]), valKL: Number(m[6]), seconds: Number(m[7]),
    }));
    expect(epochs.map((e) => [e.epoch, e.of])).toEqual([[1, 2], [2, 2]]);
    for (const e of epochs) {
      for (const v of [e.loss, e.valLoss, e.seconds]) {
        expect(Number.isFinite(v)).toBe(true);
      }
      // A negative ELBO of binarised-ish 784-pixel images: positive, and below the 784·ln 2 ≈ 543 nats of a coin flip per pixel.
      expect(e.valLoss).toBeGreaterThan(0);
      expect(e.valLoss).toBeLessThan(600);
      // The per-term logs: the printed terms (2 decimals each) add up to the printed negative ELBO.
      expect(e.valKL).toBeGreaterThan(0);
      expect(Math.abs(e.valReconstruction + e.valKL - e.valLoss)).toBeLessThanOrEqual(0.011);
    }
    expect(epochs[1].valLoss).toBeLessThan(epochs[0].valLoss);

    const objective = /validation objective \(tfv\.evaluateObjective, 200 examples\): -ELBO (\S+) = reconstruction (\S+) \+ KL (\S+) nats/
        .exec(r.stdout);
    expect(objective).not.toBeNull();
    const [loss, data, kl] = objective!.slice(1, 4).map(Number);
    expect(kl).toBeGreaterThan(0);
    expect(Math.abs(data + kl - loss)).toBeLessThan(0.02);

    expect(fs.existsSync(path.join(modelDir, 'model.json'))).toBe(true);
    const reload = /reloaded with tf\.loadLayersModel: \d+ layers, weights identical; validation -ELBO (\S+)/.exec(r.stdout);
    expect(reload).not.toBeNull();
    expect(Number.isFinite(Number(reload![1]))).toBe(true);
  }, 100000);

  it('rejects a bad flag with exit code 2 and names the flag', () => {
    const r = run(['--batch-size', '0'], 30000);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--batch-size must be a positive integer. Received: --batch-size=0');
  }, 40000);

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
    expect(r.stderr).toContain('--backend tensorflow: @tensorflow/tfjs-node is not installed');
  }, 40000);
});
