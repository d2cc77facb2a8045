/**
 * The parts every EDIT-style stop rule shares: the (delta, Omega) thresholds of the first vs later
 * blocks, the run-length counter of Alg. 1, the stop gate and the certificate at the stop.
 */
import type { CertificateFlags } from "../../../protocol/trace";
import { certify } from "./math";
import type { NumberParam } from "./params";
import type { BlockInfo } from "./rule";

const positive = (d: number, doc: string): NumberParam => ({ type: "number", default: d, min: 0, minExclusive: true, doc });
const count = (d: number, min: number, doc: string): NumberParam => ({ type: "number", default: d, min, integer: true, doc });

/** Threshold parameters shared by edit, edit-subspace and edit-released (defaults = bundle-contract example). */
export const THRESHOLD_PARAMS = {
  deltaFirst: positive(0.05, "KL threshold delta of the first block (Alg. 1 line 22: stable when D_t < delta)"),
  omegaFirst: count(6, 1, "stability span Omega of the first block: stop when c >= Omega"),
  deltaLater: positive(0.1, "KL threshold delta of the later blocks"),
  omegaLater: count(6, 1, "stability span Omega of the later blocks"),
} as const;

export const polishParam = (d: number): NumberParam =>
  count(d, 0, "forwards spent after a stop to commit what is still masked (0 = argmax fill from the stop forward)");

export interface Thresholds {
  deltaFirst: number;
  omegaFirst: number;
  deltaLater: number;
  omegaLater: number;
}

/**
 * Alg. 1's counter: c <- c + 1 when D_t < delta, else c <- 0; an undefined D_t (null) is unstable.
 * The block stops at the first step with c >= Omega, provided the stop saves forwards:
 * step + polishSteps < budget (the sampler ignores a stop with t + p >= T_b; checking it here as well
 * keeps certificates to stops that happened).
 */
export class RunLengthGate {
  counter = 0;
  delta = 0;
  omega = 0;
  private budget = 0;
  private stopped = false;
  private cert: CertificateFlags | null = null;

  constructor(
    private readonly thresholds: Thresholds,
    private readonly polishSteps: number,
    private readonly constants: { alphaHat: number; q: number } | null,
  ) {}

  beginBlock(block: BlockInfo): void {
    const first = block.index === 0;
    this.delta = first ? this.thresholds.deltaFirst : this.thresholds.deltaLater;
    this.omega = first ? this.thresholds.omegaFirst : this.thresholds.omegaLater;
    this.budget = block.budget;
    this.counter = 0;
    this.stopped = false;
    this.cert = null;
  }

  /**
   * Feed D_t (null = undefined) and the margin m_t at this step; returns true at the one step that
   * stops the block. Later calls in the same block (polish forwards, if observed) never stop again.
   */
  update(step: number, d: number | null, margin: number | null): boolean {
    this.counter = d !== null && d < this.delta ? this.counter + 1 : 0;
    if (this.stopped || this.counter < this.omega || step + this.polishSteps >= this.budget) return false;
    this.stopped = true;
    this.cert = certify(margin ?? NaN, this.delta, this.omega, this.constants);
    return true;
  }

  thresholdsInForce(): { delta: number; omega: number } {
    return { delta: this.delta, omega: this.omega };
  }

  certificate(): CertificateFlags | null {
    return this.cert;
  }
}
