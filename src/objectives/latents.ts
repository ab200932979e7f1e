/**
 * Switches a model's latent layers between ELBO mode (divergences through
 * `addLoss`) and bound mode (per-sample log-weights for a bound loss): every
 * `Reparameterize` records `log p(z) − log q(z|x)`, taking `p(z)` from the
 * `KLDivergenceLayer` directly upstream when there is one, and that layer
 * stops adding its closed-form KL, which the bound then holds per sample.
 * See docs/architecture.md, "Multi-sample objectives".
 */
import * as tfl from '@tensorflow/tfjs-layers';

import {FlowPosterior} from '../flows/flow_posterior';
import {KLDivergenceLayer} from '../layers/kl_divergence';
import {modelLayers} from '../layers/model_layers';
import {Reparameterize} from '../layers/reparameterize';

/** The KL layer whose outputs a Reparameterize layer takes, or null (its inputs come from elsewhere). */
function upstreamKL(layer: Reparameterize): KLDivergenceLayer|null {
  const found = new Set<KLDivergenceLayer>();
  let other = false;
  for (const node of layer.inboundNodes) {
    for (const inbound of node.inboundLayers) {
      if (inbound instanceof KLDivergenceLayer) found.add(inbound); else other = true;
    }
  }
  if (found.size === 0) return null;
  if (found.size > 1 || other) {
    throw new Error(
        `reparameterize '${layer.name}' takes its inputs from several layers (${[...found].map((l) => `'${l.name}'`).join(', ')}` +
        `${other ? ' and others' : ''}); in a model trained with a bound loss each reparameterize layer must take ` +
        '[mu, logVar] from one klDivergence layer, or from none (prior N(0, I))');
  }
  return [...found][0];
}

/**
 * Puts the latent layers of `model` in bound mode (`on`) or back in ELBO
 * mode. Returns the number of latent (`Reparameterize`) layers found.
 */
export function configureLatents(model: {layers: tfl.layers.Layer[]}, on: boolean): number {
  const layers = new Set(modelLayers(model.layers));
  let latents = 0;
  for (const layer of layers) {
    if (layer instanceof FlowPosterior) {
      // A flow posterior is its own latent and prior: in bound mode it records log-weights instead of its KL.
      latents++;
      layer.setLogWeightEmission(on);
      continue;
    }
    if (!(layer instanceof Reparameterize)) continue;
    latents++;
    const kl = on ? upstreamKL(layer) : null;
    layer.setLogWeightEmission(on, kl === null ? null : kl.latentPrior());
  }
  for (const layer of layers) {
    if (layer instanceof KLDivergenceLayer) {
      const feedsLatent = on && layer.outboundNodes.some((n) => n.outboundLayer instanceof Reparameterize && layers.has(n.outboundLayer));
      layer.setCoveredByBound(feedsLatent);
    }
  }
  return latents;
}
