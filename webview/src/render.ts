/** Renders a ViewState into the panel's DOM (the elements the HTML from client/src/webviewHtml.ts provides). */
import { klChart } from "./chart";
import { forwardsSoFar, type BlockView, type ViewState } from "./state";

function h<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function badge(label: string, state: "pass" | "fail" | "na", title: string): HTMLElement {
  const b = document.createElement("vscode-badge");
  b.className = `cert ${state}`;
  b.dataset.cert = label;
  b.dataset.state = state;
  b.title = title;
  b.textContent = `${label} ${state === "pass" ? "✓" : state === "fail" ? "✗" : "–"}`;
  return b;
}

function certBadges(block: BlockView): HTMLElement {
  const row = h("div", "badges");
  const c = block.certificate;
  const lastMargin = [...block.points].reverse().find((p) => p.margin !== null)?.margin ?? null;
  const margin = c ? c.margin : lastMargin;
  const m = document.createElement("vscode-badge");
  m.className = "margin";
  m.dataset.cert = "margin";
  m.textContent = margin === null ? "m_t –" : `m_t ${margin.toFixed(3)}`;
  m.title = "Top-2 margin of the final distribution on the support at the stop step";
  row.append(m);
  if (!c) {
    const why = block.stopStep === null ? "no stop in this block" : "no certificate for this rule";
    row.append(badge("Thm 2", "na", why), badge("Cor 6", "na", why), badge("Thm 4", "na", why));
    return row;
  }
  row.append(
    badge("Thm 2", c.thm2 ? "pass" : "fail", `Theorem 2 (Eq 18): Ω·√(δ/2) < m_t/2 with Ω=${c.omega}, δ=${c.delta}`),
    badge("Cor 6", c.cor6 ? "pass" : "fail", `Corollary 6 (Eq 24): (δ, Ω) meet the bound with α̂=${c.alphaHat}, q=${c.q}`),
    badge("Thm 4", c.thm4 ? "pass" : "fail", `Theorem 4 (Eq 20): Ω·√(δ/2) + √(δ/2)/(1−α̂) < m_t/2 (certified stop)`),
  );
  return row;
}

function stepsBar(block: BlockView): HTMLElement {
  const wrap = h("div", "bar");
  wrap.dataset.block = String(block.index);
  wrap.setAttribute("role", "meter");
  wrap.setAttribute("aria-valuemin", "0");
  wrap.setAttribute("aria-valuemax", String(block.budget));
  wrap.setAttribute("aria-valuenow", String(block.stepsUsed));
  wrap.title = `${block.stepsUsed} of ${block.budget} forwards`;
  const polish = block.points.filter((p) => p.polish).length;
  const used = h("div", "bar-used");
  // CSSOM width (not a style attribute) so the strict style-src allows it.
  used.style.width = `${(100 * (block.stepsUsed - polish)) / Math.max(block.budget, 1)}%`;
  const pol = h("div", "bar-polish");
  pol.style.width = `${(100 * polish) / Math.max(block.budget, 1)}%`;
  wrap.append(used, pol);
  return wrap;
}

function blockCard(block: BlockView, streaming: boolean): HTMLElement {
  const card = h("article", "block");
  card.dataset.block = String(block.index);
  const head = h("div", "block-head");
  head.append(h("h3", undefined, `Block ${block.index}`));
  const saved = block.budget - block.stepsUsed;
  const ended = block.endedBy ?? (streaming ? "running" : "–");
  head.append(h("span", "muted", `${block.stepsUsed}/${block.budget} forwards · ${ended}${block.endedBy && saved > 0 ? ` · saved ${saved}` : ""}`));
  card.append(head, stepsBar(block));
  if (block.points.some((p) => p.kl !== null)) card.append(klChart(block));
  else if (block.endedBy === "eos-skip") card.append(h("p", "muted small", "Skipped: an earlier block ended with eos (0 forwards)."));
  else card.append(h("p", "muted small", block.points.length ? "No D_t yet (defined once |I_t| ≥ 2), or this rule reports none." : "Waiting for the first step…"));
  card.append(certBadges(block));
  return card;
}

export function render(state: ViewState, root: Document = document): void {
  const summary = root.getElementById("summary-text")!;
  const blocks = root.getElementById("blocks")!;
  const output = root.getElementById("output")!;
  const text = root.getElementById("text")!;
  document.body.dataset.phase = state.phase;

  if (state.phase === "empty") {
    summary.textContent = 'No generation yet. Run "EDIT: Generate from Prompt" or accept an inline completion.';
    blocks.replaceChildren();
    output.hidden = true;
    return;
  }
  const { forwards, budget } = forwardsSoFar(state);
  const parts = [
    state.rule ? `rule ${state.rule}` : null,
    `${forwards}/${budget} forwards${state.totals ? ` (saved ${budget - forwards})` : ""}`,
    state.totals?.certifiedFraction != null ? `${Math.round(state.totals.certifiedFraction * 100)}% of stops certified (Thm 4)` : null,
    state.totals ? `${Math.round(state.totals.wallMs)} ms` : null,
    state.bundle ? `${state.bundle}${state.provider ? ` on ${state.provider}` : ""}` : null,
  ].filter(Boolean);
  summary.textContent = (state.phase === "streaming" ? "Generating… " : "") + parts.join(" · ");
  blocks.replaceChildren(...state.blocks.map((b) => blockCard(b, state.phase === "streaming")));

  output.hidden = state.phase !== "done";
  const cells = state.tokens;
  if (cells.length && cells.every((c) => c.text !== null)) {
    text.replaceChildren(
      ...cells.map((c) => {
        const span = h("span", c.early ? "tok early" : "tok", c.text ?? "");
        span.title = `block ${c.block}, id ${c.id}${c.early ? ", committed early" : ""}`;
        return span;
      }),
    );
  } else {
    text.textContent = state.text;
  }
  text.dataset.early = String(cells.filter((c) => c.early).length);
}
