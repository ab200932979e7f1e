#!/usr/bin/env node
/**
 * Small copies of a run's pictures for the READMEs:
 *
 *   node examples/mnist-vae/thumbnails.mjs [OUT_DIR] [FIGURES_DIR] [WIDTH]
 *
 * reads latent.png, manifold.png and loss.png from OUT_DIR (default
 * examples/mnist-vae/out) and writes WIDTH-pixel-wide copies (default 300)
 * to FIGURES_DIR (default examples/mnist-vae/figures), resampled by resvg.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import {PNG} from 'pngjs';

import {svgToPng} from '../shared/charts.mjs';

const [outDir = 'examples/mnist-vae/out', figuresDir = 'examples/mnist-vae/figures', widthText = '300'] = process.argv.slice(2);
const width = Number(widthText);
if (!Number.isInteger(width) || width < 16) {
  console.error(`error: WIDTH must be an integer of at least 16. Received: ${widthText}`);
  process.exit(2);
}
fs.mkdirSync(figuresDir, {recursive: true});
for (const name of ['latent.png', 'manifold.png', 'loss.png']) {
  const file = path.join(outDir, name);
  if (!fs.existsSync(file)) {
    console.error(`error: ${file} not found (run the example first)`);
    process.exit(1);
  }
  const bytes = fs.readFileSync(file);
  const {width: w, height: h} = PNG.sync.read(bytes);
  const height = Math.round((h * width) / w);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<image width="${width}" height="${height}" href="data:image/png;base64,${bytes.toString('base64')}"/></svg>`;
  const {png} = svgToPng(svg);
  fs.writeFileSync(path.join(figuresDir, name), png);
  console.log(`${path.join(figuresDir, name)}: ${width}x${height} from ${w}x${h}`);
}
