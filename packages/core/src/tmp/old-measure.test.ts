import { compileCondition as oldCompile } from "./old-condition.js";
import { compileCondition } from "../condition/condition-expression.js";
const vars = (previous: string) => ({ previous, original: "", draft: "", steps: {}, metadata: {}, iteration: 0 });
const time = (label: string, run: () => unknown) => { const t = performance.now(); let r: unknown; try { r = run(); } catch (e) { r = String(e).slice(0, 90); } console.log(`${label}: ${Math.round(performance.now() - t)} ms → ${String(r)}`); };
it("before/after", () => {
  for (const n of [24, 25, 26]) {
    const src = `"${"a".repeat(n)}!".matches("^(a+)+$")`;
    time(`old ${n}a`, () => oldCompile(src).evaluate(vars("")));
    time(`new ${n}a`, () => compileCondition(src).evaluate(vars("")));
  }
  const all = 'previous.split("").all(c, previous.lowerAscii().contains(c))';
  for (const n of [2_000, 5_000, 20_000]) {
    time(`old all ${n}`, () => oldCompile(all).evaluate(vars("x".repeat(n))));
    time(`new all ${n}`, () => compileCondition(all).evaluate(vars("x".repeat(n))));
  }
}, 900000);
