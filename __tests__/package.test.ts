/** The published shape of the package: entry points, externals, version, typings, the UMD bundle in a page. */
import {execFileSync} from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';

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

  it('imports only package roots in the bundled typings (no @tensorflow/*/dist/ deep path)', () => {
    // Deep paths are not part of tfjs's public API: they break on any layout change and under
    // resolvers that honour package.json "exports".
    const deep = read(pkg.types).split('\n').filter((line) => /['"]@tensorflow\/[^'"]*\/dist\//.test(line));
    expect(deep).toEqual([]);
  });
});

describe('the UMD bundle loaded as a plain script (a page, a vm context)', () => {
  const tfjs = (rel: string) => fs.readFileSync(path.join(root, 'node_modules', '@tensorflow', rel), 'utf8');
  const page = () => {
    const context = vm.createContext({});
    vm.runInContext('var self = this;', context);  // tfjs looks for a global object by name
    return context;
  };
  const load = (context: vm.Context, code: string, filename: string) => vm.runInContext(code, context, {filename});
  const umd = () => read(pkg.unpkg);
  const firstMessage = /^tfjs-variational: load TensorFlow\.js first \(/;

  it('without a global tf: throws at once, saying to load TensorFlow.js first', () => {
    const context = page();
    let error: unknown;
    try {
      load(context, umd(), 'tfjs-variational.min.js');
    } catch (e) {
      error = e;
    }
    const message = String((error as {message?: unknown} | undefined)?.message);
    expect(message).toMatch(firstMessage);
    expect(message).toContain('the global tf is missing');
    expect(message).toMatch(/<script src="[^"]*tf\.min\.js"><\/script> before this bundle/);
    expect(context.tfv).toBeUndefined();
  });

  it('with only tfjs-core loaded (no tf.layers): throws, naming what is missing', () => {
    const context = page();
    load(context, tfjs('tfjs-core/dist/tf-core.min.js'), 'tf-core.min.js');
    expect(() => load(context, umd(), 'tfjs-variational.min.js')).toThrow(/tfjs-variational: load TensorFlow\.js first \(the global tf has no tf\.layers/);
  });

  it.each([
    ['@tensorflow/tfjs', ['tfjs/dist/tf.min.js']],
    ['tfjs-core + tfjs-layers', ['tfjs-core/dist/tf-core.min.js', 'tfjs-layers/dist/tf-layers.min.js']],
  ])('after %s\'s own UMD bundle: defines tfv, whose layers work', (_, bundles) => {
    const context = page();
    for (const b of bundles) load(context, tfjs(b), path.basename(b));
    load(context, umd(), 'tfjs-variational.min.js');
    expect(typeof context.tfv.layers.klDivergence).toBe('function');
    expect(load(context, 'tfv.layers.klDivergence().getClassName()', 'check.js')).toBe('KLDivergenceLayer');
    expect(load(context, 'tfv.version', 'check.js')).toBe(pkg.version);
  });

  it('still loads through AMD and CommonJS, where there is no global tf', () => {
    let deps: string[] = [];
    const define = Object.assign((d: string[]) => {
      deps = d;
    }, {amd: true});
    load(vm.createContext({define}), umd(), 'tfjs-variational.min.js');
    expect([...deps].sort()).toEqual(['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', 'exports']);
    const keys = execFileSync(process.execPath,
        ['-e', `console.log(Object.keys(require(${JSON.stringify(path.join(root, pkg.unpkg))})).sort().join(','))`],
        {cwd: root, encoding: 'utf8', timeout: 60000});
    expect(keys.trim().split(',')).toEqual(expect.arrayContaining(['layers', 'losses', 'evaluateObjective', 'version']));
  });
});
