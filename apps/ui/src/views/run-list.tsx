import type { RunSummary } from "@ensemble/sdk";
import { duration, usd, when } from "../format.js";

/** Every run of a flow, newest first; the one shown is marked, the others link to theirs. */
export function RunList({ flowId, runs, shown }: { flowId: string; runs: RunSummary[]; shown: number }) {
  if (runs.length === 0) return null;
  return (
    <section class="runs" data-testid="run-list">
      <h2>Runs</h2>
      <table class="list">
        <thead>
          <tr>
            <th>Run</th>
            <th>Status</th>
            <th>Rerun of</th>
            <th>Cost</th>
            <th>Tokens</th>
            <th>Started</th>
            <th>Took</th>
          </tr>
        </thead>
        <tbody>
          {[...runs].reverse().map((r) => (
            <tr key={r.run} data-run={r.run} class={r.run === shown ? "shown" : undefined}>
              <td>
                {r.run === shown ? (
                  <strong>run {r.run}</strong>
                ) : (
                  <a href={`#/flows/${encodeURIComponent(flowId)}/runs/${r.run}`}>run {r.run}</a>
                )}
              </td>
              <td>
                <span class={`badge ${r.status}`}>{r.status}</span>
              </td>
              <td>{r.rerunOf ? `run ${r.rerunOf.run} from ${r.rerunOf.fromStep}` : "—"}</td>
              <td>{usd(r.totalCost)}</td>
              <td>{r.totalTokens}</td>
              <td>{when(r.startedAt)}</td>
              <td>{duration(r.startedAt, r.completedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
