/**
 * The public surface: docs/api.md lists exactly what the package exports
 * (every namespace member, both ways), and internals stay out of it.
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tfv from '../src';

const NAMESPACES = ['layers', 'losses', 'objectives', 'priors', 'callbacks', 'io', 'distributions', 'flows', 'metrics'] as const;

/** `tfv.x` and `tfv.ns.x` of the package, as runtime values. */
function exportedNames(): string[] {
  const names: string[] = [];
  for (const [key, value] of Object.entries(tfv)) {
    if ((NAMESPACES as readonly string[]).includes(key)) {
      for (const member of Object.keys(value as object)) names.push(`tfv.${key}.${member}`);
    } else {
      names.push(`tfv.${key}`);
    }
  }
  return names.sort();
}

/** The names in the first column of docs/api.md's tables. */
function documentedNames(): string[] {
  const text = fs.readFileSync(path.join(__dirname, '..', 'docs', 'api.md'), 'utf8');
  return [...text.matchAll(/^\| `(tfv\.[A-Za-z0-9_.]+)` \|/gm)].map((m) => m[1]).sort();
}

it('docs/api.md lists every export of the package, and nothing else', () => {
  const exported = exportedNames();
  const documented = documentedNames();
  expect(documented.filter((n) => !exported.includes(n))).toEqual([]);
  expect(exported.filter((n) => !documented.includes(n))).toEqual([]);
  expect(new Set(documented).size).toBe(documented.length);
  expect(Object.keys(tfv).filter((k) => (NAMESPACES as readonly string[]).includes(k)).sort()).toEqual([...NAMESPACES].sort());
});

it('internals are not exported, and public functions take no error-label parameters', () => {
  const exported = exportedNames();
  for (const internal of ['tfv.layers.repeatRows', 'tfv.layers.randomSigns', 'tfv.layers.KLWeight', 'tfv.layers.isKLWeighted',
                          'tfv.losses.samplesPerExample', 'tfv.priors.resolvePrior', 'tfv.priors.registerBuiltinPrior']) {
    expect(exported).not.toContain(internal);
  }
  expect(tfv.priors.getPrior.length).toBe(1);
  expect(tfv.priors.getPrior('gaussian')).toBeInstanceOf(tfv.priors.GaussianPrior);
});
