/**
 * Runs the README's VAE snippet as written (tfjs names mapped onto
 * tfjs-core + tfjs-layers, small data, one epoch), so the documented code
 * cannot drift from the library.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {useBackend} from './helpers/backends';

function readmeSnippet(): string {
  const text = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const blocks = [...text.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  const vae = blocks.find((b) => b.includes('klDivergence()'));
  if (vae === undefined) throw new Error('README.md has no VAE snippet');
  return vae;
}

describe('README', () => {
  beforeAll(async () => useBackend('wasm'));

  it('its 20-line VAE trains, evaluates, saves and loads as written', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-readme-'));
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      const body = readmeSnippet()
          .split('\n').filter((line) => !line.startsWith('import ')).join('\n')
          .replace('epochs: 10', 'epochs: 1');
      expect(body.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('//')).length).toBeLessThanOrEqual(20);
      const tf = {...tfc, ...tfl, layers: tfl.layers, train: tfc.train};
      const xTrain = tfc.randomUniform([64, 784], 0, 1, 'float32', 1);
      const xTest = tfc.randomUniform([32, 784], 0, 1, 'float32', 2);
      const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;
      const run = new AsyncFunction('tf', 'tfv', 'xTrain', 'xTest',
          `${body}\nreturn {history, loss, dataTerm, layerLosses, again, vae};`);
      const out = await run(tf, tfv, xTrain, xTest);
      const val = out.history.history.val_loss[0];
      expect(Number.isFinite(val)).toBe(true);
      expect(out.loss).toBeCloseTo(out.dataTerm + out.layerLosses, 3);
      expect(out.layerLosses).toBeGreaterThan(0);
      expect(fs.existsSync(path.join(dir, 'vae', 'model.json'))).toBe(true);
      expect(out.again.layers.map((l: tfl.layers.Layer) => l.getClassName()))
          .toEqual(out.vae.layers.map((l: tfl.layers.Layer) => l.getClassName()));
    } finally {
      process.chdir(cwd);
      fs.rmSync(dir, {recursive: true, force: true});
    }
  });
});
