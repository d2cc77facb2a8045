/**
 * Issue 21's learned commit policy, from two eval runs on the same item order: the peers run
 * (--issue21-grid: every peer family and the commit oracle) and the learned run (--families
 * learned,learned-no-edit,learned-no-end: full, the policy and its ablations without EDIT's features and
 * without the end-of-answer predictor). Per task:
 * the val-chosen setting of each (fewest forwards with val accuracy >= full - tolerance), its test
 * accuracy, forwards per block and ratio to the commit oracle, exact McNemar against full (same run),
 * the ablation (with vs without EDIT's features, paired), and the policy against each peer's
 * val-chosen setting, paired on the test items both runs reached (runs with a time budget reach
 * different numbers of items; item order is the same, so the common prefix pairs item by item).
 */
import type { ConfigSummary, EvalSummary } from "./analyze";
import { chooseWithin, PICK_FAMILIES } from "./peers";
import { mcnemarExact, pairedCounts, wilson } from "./stats";

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const pv = (p: number) => (p < 0.001 ? "<0.001" : p.toFixed(3));
const bits = (c: ConfigSummary, n: number) => [...c.outcomes.slice(0, n)].map((b) => b === "1");

/** Exact McNemar on the first n items: "a only / b only, p". */
function pairedText(a: ConfigSummary, b: ConfigSummary, n = Math.min(a.outcomes.length, b.outcomes.length)): string {
  const d = pairedCounts(bits(a, n), bits(b, n));
  return `${d.onlyA}/${d.onlyB}, p=${pv(mcnemarExact(d.onlyA, d.onlyB))} (${n} items)`;
}

function acc(c: ConfigSummary): string {
  const [lo, hi] = wilson(c.correct, c.items);
  return `${pct(c.accuracy)} (${(100 * lo).toFixed(1)}-${(100 * hi).toFixed(1)}, n=${c.items})`;
}

export function learnedMarkdown(learned: EvalSummary, peers: EvalSummary | null, split = "test"): string {
  const L: string[] = ["## The learned commit policy (issue 21): val-chosen settings on " + split, ""];
  const tol = learned.tolerance;
  for (const task of Object.keys(learned.splits[split] ?? {})) {
    const val = learned.splits.val?.[task];
    const test = learned.splits[split][task];
    if (!val || !test) continue;
    const pTest = peers?.splits[split]?.[task];
    const pVal = peers?.splits.val?.[task];
    const oracle = pTest?.configs.find((c) => c.family === "commit-oracle");
    const ratio = (c: ConfigSummary) => (oracle ? `${(c.forwardsPerBlock / oracle.forwardsPerBlock).toFixed(2)}x` : "");
    const holds = (c: ConfigSummary, full: ConfigSummary) => (c.accuracy >= full.accuracy - tol - 1e-12 ? "yes" : "no");
    L.push(`### ${task}`, "");
    L.push(`full: ${acc(test.full)}, ${test.full.forwardsPerBlock.toFixed(2)} forwards/block` + (oracle ? `; commit oracle (peers run): ${oracle.forwardsPerBlock.toFixed(2)} (same output as full ${oracle.sameAsFull ?? "?"}/${oracle.items})` : ""), "");
    L.push("| policy | val-chosen setting | accuracy (95 % CI) | forwards/block | x commit oracle | holds | vs full (only this / only full) |");
    L.push("|---|---|---:|---:|---:|:---:|---|");
    const pick = (fam: string) => {
      const id = chooseWithin(task, val, tol, (c) => c.family === fam);
      return id ? test.configs.find((c) => c.id === id) ?? null : null;
    };
    const withEdit = pick("learned");
    const noEdit = pick("learned-no-edit");
    const noEnd = pick("learned-no-end");
    const ran = (fam: string) => val.configs.some((c) => c.family === fam);
    const rows = [["with EDIT's features", withEdit, "learned"], ["without (ablation)", noEdit, "learned-no-edit"], ["without the end-of-answer predictor", noEnd, "learned-no-end"]] as const;
    for (const [name, c] of rows.filter((r) => ran(r[2]))) {
      L.push(c ? `| ${name} | \`${c.id}\` | ${acc(c)} | ${c.forwardsPerBlock.toFixed(2)} | ${ratio(c)} | ${holds(c, test.full)} | ${pairedText(c, test.full)} |` : `| ${name} | none within ${tol} on val | | | | | |`);
    }
    L.push("");
    for (const [fam, what] of ([["learned-no-edit", "EDIT's features"], ["learned-no-end", "the end-of-answer predictor"]] as const).filter((r) => ran(r[0]))) {
      L.push(`Ablation at each setting (same items): with ${what} vs without.`, "");
      L.push("| setting | accuracy with / without | forwards/block with / without | only with / only without, p |");
      L.push("|---|---|---|---|");
      for (const c of test.configs.filter((x) => x.family === "learned")) {
        const twin = test.configs.find((x) => x.family === fam && x.params.threshold === c.params.threshold && x.params.budget === c.params.budget);
        if (!twin) continue;
        const setting = c.params.budget !== undefined ? `budget ${c.params.budget}` : `threshold ${c.params.threshold}`;
        L.push(`| ${setting} | ${pct(c.accuracy)} / ${pct(twin.accuracy)} | ${c.forwardsPerBlock.toFixed(2)} / ${twin.forwardsPerBlock.toFixed(2)} | ${pairedText(c, twin)} |`);
      }
      L.push("");
    }
    if (withEdit && pTest && pVal) {
      L.push("The policy (with EDIT's features) against each peer family's val-chosen setting (peers run), paired on the common test items:", "");
      L.push("| peer family | setting | peer forwards/block | peer accuracy | policy forwards/block | fewer forwards | only policy / only peer, p |");
      L.push("|---|---|---:|---:|---:|:---:|---|");
      for (const fam of PICK_FAMILIES.filter((f) => !f.startsWith("learned"))) {
        const id = chooseWithin(task, pVal, tol, (c) => c.family === fam);
        const c = id ? pTest.configs.find((x) => x.id === id) : undefined;
        if (!c) continue;
        L.push(`| ${fam} | \`${c.id}\` | ${c.forwardsPerBlock.toFixed(2)} | ${pct(c.accuracy)} | ${withEdit.forwardsPerBlock.toFixed(2)} | ${withEdit.forwardsPerBlock < c.forwardsPerBlock ? "yes" : "no"} | ${pairedText(withEdit, c)} |`);
      }
      L.push("");
    }
  }
  return L.join("\n") + "\n";
}
