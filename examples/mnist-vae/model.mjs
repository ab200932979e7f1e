/**
 * The VAE of the Keras write-up ("Variational AutoEncoder", Chollet; Kingma &
 * Welling 2014), as a functional tf.model that trains with model.fit:
 *
 *   encoder  784 → hidden (relu) → (z_mu, z_log_var), latent units each
 *   latent   q(z|x): Gaussian (klDivergence + reparameterize), or a flow posterior
 *            (tfv.flows.flowPosterior with amortized planar flows or IAF steps)
 *   decoder  latent → hidden (relu) → 784 Bernoulli logits, a nested tf.sequential named 'decoder'
 *
 * compiled with the Bernoulli negative log-likelihood (objective 'elbo', k = 1),
 * or with tfv.objectives.elbo / iwae over k samples per example. The encoder
 * mean and the decoder are reachable on a loaded model too (`parts`), for the
 * pictures.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../../dist/tfjs-variational.mjs';

/** Architecture options: the ones a resumed run must share with the saved model. */
export const ARCHITECTURE_KEYS = ['latent', 'hidden', 'posterior', 'flows', 'objective', 'samples'];

/** Context units the encoder gives every IAF step (Kingma et al. 2016's h). */
const IAF_CONTEXT = 32;

/**
 * Builds and compiles the VAE.
 * @param {{pixels: number, hidden: number, latent: number, posterior: 'gaussian'|'planar'|'iaf', flows: number,
 *   objective: 'elbo'|'iwae', samples: number, klWeight: number, lr: number, seed: number}} o
 */
export function buildVae(o) {
  // Seeded initialisers: the same --seed gives the same initial weights.
  let n = 0;
  const init = () => tfl.initializers.glorotUniform({seed: o.seed * 64 + n++});
  const dense = (units, activation, name) => tfl.layers.dense({units, activation, name, kernelInitializer: init()});

  const x = tfl.input({shape: [o.pixels], name: 'image'});
  const h = dense(o.hidden, 'relu', 'encoder_hidden').apply(x);
  const zMu = dense(o.latent, undefined, 'z_mu').apply(h);
  const zLogVar = dense(o.latent, undefined, 'z_log_var').apply(h);
  const samples = o.samples;
  let z;
  if (o.posterior === 'gaussian') {
    // With a bound loss the KL layer only declares the prior N(0, I): the bound holds log p(z) − log q(z|x) per sample.
    const [m, lv] = tfv.layers.klDivergence({weight: o.klWeight, name: 'kl'}).apply([zMu, zLogVar]);
    z = tfv.layers.reparameterize({samples, seed: o.seed, name: 'z'}).apply([m, lv]);
  } else if (o.posterior === 'planar') {
    // Amortized planar flows: u, w, b of every flow per example from the encoder's hidden layer
    // (Rezende & Mohamed 2015, section 4).
    const flows = Array.from({length: o.flows}, (_, i) => tfv.flows.planarFlow({amortized: true, name: `planar_${i}`}));
    const posterior = tfv.flows.flowPosterior({flows, samples, weight: o.klWeight, seed: o.seed, name: 'z'});
    const params = dense(o.flows * tfv.flows.PlanarFlow.paramSize(o.latent), undefined, 'flow_params').apply(h);
    z = posterior.apply([zMu, zLogVar, params]);
  } else {
    // IAF (Kingma et al. 2016): autoregressive steps, alternating order, each given a context from the encoder.
    const context = dense(IAF_CONTEXT, 'relu', 'iaf_context').apply(h);
    const flows = Array.from({length: o.flows}, (_, i) => tfv.flows.inverseAutoregressiveFlow({
      hiddenUnits: Math.max(16, 4 * o.latent), contextSize: IAF_CONTEXT, reverse: i % 2 === 1, name: `iaf_${i}`,
      kernelInitializer: init(),
    }));
    const posterior = tfv.flows.flowPosterior({flows, samples, weight: o.klWeight, seed: o.seed, name: 'z'});
    const params = o.flows === 1 ? context :
      tfl.layers.concatenate({name: 'iaf_contexts'}).apply(Array.from({length: o.flows}, () => context));
    z = posterior.apply([zMu, zLogVar, params]);
  }
  const decoder = tfl.sequential({name: 'decoder', layers: [
    tfl.layers.dense({inputShape: [o.latent], units: o.hidden, activation: 'relu', name: 'decoder_hidden', kernelInitializer: init()}),
    tfl.layers.dense({units: o.pixels, name: 'logits', kernelInitializer: init()}),
  ]});
  const vae = tfl.model({inputs: x, outputs: decoder.apply(z), name: 'vae'});
  compileVae(vae, o);
  return vae;
}

/** Compiles with a fresh Adam: the loss the options name (a resumed model is compiled anew the same way). */
export function compileVae(model, o) {
  // checkTargets: every batch's pixels must lie in [0, 1] (raw 0-255 values or a NaN throw, naming the range seen).
  const likelihood = tfv.losses.bernoulliNLL({fromLogits: true, checkTargets: true});
  let loss = likelihood;
  if (o.objective === 'iwae') loss = tfv.objectives.iwae({likelihood});
  else if (o.samples > 1) loss = tfv.objectives.elbo({likelihood});
  model.compile({optimizer: tf.train.adam(o.lr), loss});
}

/** Sets β of the model's divergence layer (a resumed run may change --kl-weight). */
export function setKLWeight(model, weight) {
  for (const layer of model.layers) {
    if (typeof layer.setKLWeight === 'function') layer.setKLWeight(weight);
  }
}

/**
 * The decoder z → logits of a built or loaded VAE, and each image's latent code at the
 * posterior's "mean": μ(x) for the Gaussian, f_K ∘ … ∘ f_1(μ(x)) for a flow posterior (the
 * latent layer's inferenceMode 'mean', switched back to 'sample' afterwards).
 * @returns {{decoder: tf.LayersModel, latentMeans: (x: tf.Tensor) => Float32Array}} rows [n, latent]
 */
export function parts(vae) {
  const zLayer = vae.getLayer('z');
  const encoder = tfl.model({inputs: vae.inputs, outputs: zLayer.output, name: 'encoder_mean'});
  const latentMeans = (x) => {
    const before = zLayer.inferenceMode;
    zLayer.inferenceMode = 'mean';
    try {
      const rows = predictRows(encoder, x);
      const n = x.shape[0];
      const width = rows.length / n;             // samples · latent: the k copies of the mean, example-major
      const latent = zLayer.output.shape[1];
      if (width === latent) return rows;
      const out = new Float32Array(n * latent);
      for (let i = 0; i < n; i++) out.set(rows.subarray(i * width, i * width + latent), i * latent);
      return out;
    } finally {
      zLayer.inferenceMode = before;
    }
  };
  return {decoder: vae.getLayer('decoder'), latentMeans};
}

/** Runs `model.predict` in batches and returns the rows as one Float32Array ([n, width]). */
export function predictRows(model, x, batchSize = 500) {
  const n = x.shape[0];
  const chunks = [];
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const out = tf.tidy(() => model.predict(tf.slice(x, [start, 0], [size, x.shape[1]])));
    chunks.push(out.dataSync());
    out.dispose();
  }
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const rows = new Float32Array(total);
  let o = 0;
  for (const c of chunks) {
    rows.set(c, o);
    o += c.length;
  }
  return rows;
}
