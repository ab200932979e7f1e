/**
 * The example's three pictures:
 *
 *   latent.png    test-set encoder means (first two latent dimensions), coloured by label, legend and axes
 *   manifold.png  the decoder's means on a 15×15 grid at Gaussian quantiles, as in the Keras write-up
 *                 (z = Φ⁻¹(linspace(0.05, 0.95, 15)) per axis); for a latent size above 2, a grid over
 *                 the first two dimensions with the others at 0, said in the title
 *   loss.png      train and validation curves per epoch
 */
import * as fs from 'node:fs';

import * as tf from '@tensorflow/tfjs-core';
import {PNG} from 'pngjs';

import {CHART_FONT, lineChart, scatterChart, svgToPng, writeChartPng} from '../shared/charts.mjs';
import {gridQuantiles} from '../shared/normal_quantile.mjs';

export {gridQuantiles, normalQuantile} from '../shared/normal_quantile.mjs';

/**
 * latent.png: a scatter of the first two coordinates of `means` ([n, latent] rows) by label; for a flow
 * posterior the means are pushed through the flows (f_K ∘ … ∘ f_1(μ)).
 * @returns {Promise<{file: string, width: number, height: number, title: string}>}
 */
export async function writeLatentPlot(file, {means, labels, latent, posterior, labelTitle = 'digit', labelNames}) {
  const n = labels.length;
  const points = new Array(n);
  const name = (l) => (labelNames ? labelNames[l] ?? String(l) : l);
  for (let i = 0; i < n; i++) points[i] = {x: means[i * latent], y: latent > 1 ? means[i * latent + 1] : 0, group: name(labels[i])};
  const notes = [];
  if (latent > 2) notes.push(`first 2 of ${latent} dimensions`);
  if (latent === 1) notes.push('1 dimension, y = 0');
  const what = posterior === 'gaussian' ? 'encoder means μ(x)' : 'flowed means f(μ(x))';
  const title = `Test-set ${what}, ${n} images${notes.length ? ` (${notes.join('; ')})` : ''}`;
  const out = await writeChartPng(scatterChart({points, title, xTitle: 'z1', yTitle: latent > 1 ? 'z2' : '',
    groupTitle: labelTitle, groupOrder: labelNames, width: 440, height: 440, size: 10, opacity: 0.65}), file);
  return {...out, title};
}

/**
 * manifold.png: decoder means on a `size`×`size` grid at Gaussian quantiles of (z1, z2), other dimensions 0.
 * Top row is the largest z2, as in the Keras write-up's figure.
 * @returns {Promise<{file: string, width: number, height: number, title: string}>}
 */
export async function writeManifold(file, {decoder, latent, rows = 28, cols = 28, size = 15}) {
  const q = gridQuantiles(size);
  const z = new Float32Array(size * size * latent);
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const row = r * size + c;
      z[row * latent] = q[c];
      if (latent > 1) z[row * latent + 1] = q[size - 1 - r];
    }
  }
  const probs = tf.tidy(() => tf.sigmoid(decoder.predict(tf.tensor2d(z, [size * size, latent]))));
  const values = probs.dataSync();
  probs.dispose();
  const png = new PNG({width: size * cols, height: size * rows});
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const img = (r * size + c) * rows * cols;
      for (let y = 0; y < rows; y++) {
        for (let x = 0; x < cols; x++) {
          // White ink on black, the write-up's Greys_r.
          const v = Math.round(255 * Math.min(1, Math.max(0, values[img + y * cols + x])));
          const o = ((r * rows + y) * size * cols + c * cols + x) * 4;
          png.data[o] = png.data[o + 1] = png.data[o + 2] = v;
          png.data[o + 3] = 255;
        }
      }
    }
  }
  const grid = PNG.sync.write(png);
  const others = latent > 3 ? `; z3…z${latent} held at 0` : latent === 3 ? '; z3 held at 0' :
    latent === 1 ? '; 1-D latent: rows repeat' : '';
  const lines = [`Decoder means on a ${size}×${size} grid of Gaussian quantiles`, `z1, z2 at the standard normal quantiles of 0.05 … 0.95${others}`];
  const title = lines.join(' ');
  const {png: out, width, height} = svgToPng(manifoldSvg(grid, {lines, q, size, cellW: cols, cellH: rows}));
  fs.writeFileSync(file, out);
  return {file, width, height, title};
}

function escapeXml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The grid image with a title (one text line per entry of `lines`), z1 ticks below and z2 ticks on the left. */
function manifoldSvg(gridPng, {lines, q, size, cellW, cellH}) {
  const [left, top, w, h] = [56, 24 + 16 * lines.length, size * cellW, size * cellH];
  const width = left + w + 16;
  const height = top + h + 48;
  const t = [];
  t.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${CHART_FONT}">`);
  t.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  lines.forEach((line, i) => t.push(`<text x="8" y="${20 + 16 * i}" font-size="12" font-weight="bold">${escapeXml(line)}</text>`));
  t.push(`<image x="${left}" y="${top}" width="${w}" height="${h}" image-rendering="pixelated" ` +
      `href="data:image/png;base64,${gridPng.toString('base64')}"/>`);
  for (let i = 0; i < size; i += 2) {
    const x = left + (i + 0.5) * cellW;
    const y = top + (size - 1 - i + 0.5) * cellH;
    t.push(`<line x1="${x}" y1="${top + h}" x2="${x}" y2="${top + h + 4}" stroke="#444"/>`);
    t.push(`<text x="${x}" y="${top + h + 16}" font-size="10" text-anchor="middle">${q[i].toFixed(2)}</text>`);
    t.push(`<line x1="${left - 4}" y1="${y}" x2="${left}" y2="${y}" stroke="#444"/>`);
    t.push(`<text x="${left - 6}" y="${y + 3.5}" font-size="10" text-anchor="end">${q[i].toFixed(2)}</text>`);
  }
  t.push(`<text x="${left + w / 2}" y="${top + h + 36}" font-size="12" font-weight="bold" text-anchor="middle">z1</text>`);
  t.push(`<text x="14" y="${top + h / 2}" font-size="12" font-weight="bold" text-anchor="middle" ` +
      `transform="rotate(-90 14 ${top + h / 2})">z2</text>`);
  t.push('</svg>');
  return t.join('\n');
}

/**
 * loss.png: per-epoch curves; `series` is [{name, points: [{x: epoch, y}]}].
 * @returns {Promise<{file: string, width: number, height: number}>}
 */
export async function writeLossPlot(file, {series, title}) {
  return writeChartPng(lineChart({series, title, xTitle: 'epoch', yTitle: 'nats per image', seriesTitle: 'curve',
    width: 480, height: 300}), file);
}
