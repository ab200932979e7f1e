/**
 * Runs the README's VAE snippet as written, in its JavaScript form and in its
 * TypeScript form (compiled by `ts.transpileModule`), with tfjs names mapped
 * onto tfjs-core + tfjs-layers, small data, one epoch, so the documented code
 * cannot drift from the library. (`typescript_snippets.test.ts` type-checks
 * both.)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ts from 'typescript';

import * as tfv from '../src';
import {useBackend} from './helpers/backends';

/** The README's VAE snippet in `lang` (```js or ```ts), as JavaScript. */
function readmeSnippet(lang: 'js'|'ts'): string {
  const text = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const blocks = [...text.matchAll(new RegExp(`\`\`\`${lang}\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]);
  const vae = blocks.filter((b) => b.includes('klDivergence()'));
  if (vae.length !== 1) throw new Error(`README.md has ${vae.length} \`\`\`${lang} VAE snippets, not 1`);
  if (lang === 'js') return vae[0];
  const out = ts.transpileModule(vae[0], {reportDiagnostics: true,
    compilerOptions: {target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: true}});
  if ((out.diagnostics ?? []).length > 0) throw new Error('the README\'s ```ts VAE does not parse');
  return out.outputText;
}

describe('README', () => {
  beforeAll(async () => useBackend('wasm'));

  it.each(['js', 'ts'] as const)('its 20-line VAE (```%s) trains, evaluates, saves and loads as written', async (lang) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-readme-'));
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      const body = readmeSnippet(lang)
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
