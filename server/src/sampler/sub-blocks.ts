/**
 * Block-causal decoding geometry (SDAR, Fast-dLLM v2; bundle.json model.attention = block-causal).
 *
 * Blocks are the model's own: absolute positions [k * B, (k + 1) * B). The first generated block completes
 * the prompt's last partial block and the generation runs to a block boundary (SDAR generate.py:
 * total_length = ceil((prompt + gen) / B) * B; Fast-dLLM v2 generate(): x_init fills the prompt's block).
 *
 * Fast-dLLM v2's sub-blocks (modeling.py generate(), `small_block_size`): inside a block only the first
 * sub-block that still has masks is decoded; each step commits its masked positions whose probability
 * exceeds the threshold plus the most confident one (the `confidence` rule plus one scheduled commit). With
 * the token shift, a block whose first position is masked gets it first, alone, from the row before it:
 * the official code appends `argmax(logits[:, -1])` of the forward that completes the previous block.
 */

/** The sampler's blocks [start, end) over the generated region, on the model's block boundaries. */
export function alignedBlocks(promptLen: number, genEnd: number, blockSize: number): [number, number][] {
  const out: [number, number][] = [];
  for (let b = Math.floor(promptLen / blockSize) * blockSize; b < genEnd; b += blockSize) {
    out.push([Math.max(b, promptLen), Math.min(b + blockSize, genEnd)]);
  }
  return out;
}

/** The end of the generated region: prompt + genLength rounded up to the model's block boundary. */
export function alignedGenEnd(promptLen: number, genLength: number, blockSize: number): number {
  return Math.ceil((promptLen + genLength) / blockSize) * blockSize;
}

/**
 * The positions [from, to) decoded at this step of block [start, end): with the shift and the block's first
 * position masked, that position alone (the autoregressive step); else the first sub-block with a mask.
 * Sub-blocks are aligned to the model's block (absolute start `blockStart`), as generate() slices them.
 */
export function decodeWindow(
  ids: Int32Array,
  maskId: number,
  start: number,
  end: number,
  blockStart: number,
  subBlock: number,
  shift: boolean,
): [number, number] | null {
  if (shift && start === blockStart && start > 0 && ids[start] === maskId) return [start, start + 1];
  for (let s = blockStart; s < end; s += subBlock) {
    const a = Math.max(s, start);
    const b = Math.min(s + subBlock, end);
    for (let p = a; p < b; p++) if (ids[p] === maskId) return [a, b];
  }
  return null;
}

/** Fast-dLLM v2's stop: an eos after the prompt with no mask before it ends the generation. */
export function eosSettled(ids: Int32Array, promptLen: number, genEnd: number, eosId: number, maskId: number): boolean {
  for (let p = promptLen; p < genEnd; p++) {
    if (ids[p] === maskId) return false;
    if (ids[p] === eosId) return true;
  }
  return false;
}
