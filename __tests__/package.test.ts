/** The published shape of the package: entry points, externals, version. */
import * as fs from 'fs';
import * as path from 'path';

import * as tfv from '../src';

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const read = (rel: string) => fs.readFileSync(path.join(root, rel), 'utf8');

describe('package', () => {
  it('exports the version of package.json', () => {
    expect(tfv.version).toBe(pkg.version);
  });

  it('points main, module, types, unpkg and exports at built files', () => {
    const targets = [pkg.main, pkg.module, pkg.types, pkg.unpkg,
      pkg.exports['.'].import, pkg.exports['.'].require, pkg.exports['.'].types];
    for (const t of targets) expect(fs.existsSync(path.join(root, t))).toBe(true);
  });

  it('keeps tfjs-core and tfjs-layers external (peers, never bundled) and names the UMD global tfv', () => {
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers']);
    expect(pkg.dependencies ?? {}).toEqual({});
    const esm = read(pkg.module);
    expect(esm).toMatch(/from '@tensorflow\/tfjs-core'/);
    expect(esm).toMatch(/from '@tensorflow\/tfjs-layers'/);
    const cjs = read(pkg.main);
    expect(cjs).toMatch(/require\('@tensorflow\/tfjs-core'\)/);
    const umd = read(pkg.unpkg);
    expect(umd).toMatch(/\.tfv=\{\}/);
    expect(umd).toMatch(/e\.tf,e\.tf|\.tf,\w+\.tf/);
    // No tfjs source inside our bundles: its engine class would be there.
    for (const bundle of [esm, cjs, umd]) expect(bundle).not.toMatch(/class Engine\b|ENGINE_STATE|tfjs-core\/dist\/engine/);
  });

  it('declares every public namespace in the bundled typings', () => {
    const dts = read(pkg.types);
    for (const name of ['layers', 'losses', 'callbacks', 'io', 'flows', 'evaluateObjective', 'KLDivergenceLayer', 'Reparameterize']) {
      expect(dts).toContain(name);
    }
  });
});
