/**
 * countdown checker (training/edit_dllm/tasks/countdown.py): the equation after '#' uses each prompt
 * number exactly once, only integers, + - * / and parentheses, and equals the target in exact
 * rational arithmetic.
 */
import { finalAnswer } from "./final-answer";

interface Fraction {
  n: bigint;
  d: bigint;
}

const gcd = (a: bigint, b: bigint): bigint => {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
};
function frac(n: bigint, d: bigint): Fraction {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

class ParseError extends Error {}

/** Recursive descent over: expr = term (('+'|'-') term)*; term = atom (('*'|'/') atom)*; atom = int | '(' expr ')'. */
function evaluate(src: string, used: number[]): Fraction {
  let i = 0;
  const skip = () => {
    while (src[i] === " ") i++;
  };
  const expr = (): Fraction => {
    let v = term();
    for (;;) {
      skip();
      const op = src[i];
      if (op !== "+" && op !== "-") return v;
      i++;
      const r = term();
      v = op === "+" ? frac(v.n * r.d + r.n * v.d, v.d * r.d) : frac(v.n * r.d - r.n * v.d, v.d * r.d);
    }
  };
  const term = (): Fraction => {
    let v = atom();
    for (;;) {
      skip();
      const op = src[i];
      // Python's '//' and '**' are not allowed operators.
      if ((op !== "*" && op !== "/") || src[i + 1] === op) return v;
      i++;
      const r = atom();
      if (op === "*") v = frac(v.n * r.n, v.d * r.d);
      else {
        if (r.n === 0n) throw new ParseError("division by zero");
        v = frac(v.n * r.d, v.d * r.n);
      }
    }
  };
  const atom = (): Fraction => {
    skip();
    if (src[i] === "(") {
      i++;
      const v = expr();
      skip();
      if (src[i] !== ")") throw new ParseError("expected )");
      i++;
      return v;
    }
    const m = /^[0-9]+/.exec(src.slice(i));
    if (!m || (m[0].length > 1 && m[0][0] === "0")) throw new ParseError("expected an integer");
    i += m[0].length;
    used.push(Number(m[0]));
    return frac(BigInt(m[0]), 1n);
  };
  const v = expr();
  skip();
  if (i !== src.length) throw new ParseError("trailing input");
  return v;
}

export function checkCountdown(prompt: string, generated: string): boolean {
  const eq = finalAnswer(generated);
  if (!eq) return false;
  const [numsText, targetText] = prompt.split(">");
  const numbers = numsText.trim().split(/\s+/).map(Number);
  const target = BigInt(targetText.trim());
  const used: number[] = [];
  let value: Fraction;
  try {
    value = evaluate(eq, used);
  } catch {
    return false;
  }
  const sorted = (a: number[]) => [...a].sort((x, y) => x - y).join(",");
  return sorted(used) === sorted(numbers) && value.d === 1n && value.n === target;
}
