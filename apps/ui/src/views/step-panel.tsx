import { duration, usd } from "../format.js";
import type { FlowGraph } from "../graph-layout.js";
import type { StepView } from "../run-state.js";

/** One step: what it streams while it runs, then its output, usage, cost and attempts. */
export function StepPanel({ step, graph }: { step: StepView; graph: FlowGraph }) {
  const primary = graph.steps.find((s) => s.id === step.id);
  // A waiting approval step shows its prompt (kept in `streamed`) until it is decided.
  const live = step.state === "running" || step.state === "retrying" || step.state === "waiting";
  return (
    <div class="step-panel" data-testid="step-panel" data-step={step.id}>
      <h2>
        {step.id} <span class={`badge ${step.state}`}>{step.state}</span>
      </h2>
      <dl>
        <dt>Provider / model</dt>
        <dd>
          {step.provider}/{step.model}
        </dd>
        <dt>Tokens</dt>
        <dd>
          {step.usage
            ? `${step.usage.promptTokens} in, ${step.usage.completionTokens} out${step.usage.cachedTokens ? `, ${step.usage.cachedTokens} cached` : ""}`
            : "—"}
        </dd>
        <dt>Cost</dt>
        <dd>{usd(step.cost)}</dd>
        <dt>Latency</dt>
        <dd>{duration(step.startedAt, step.completedAt)}</dd>
        {step.reusedFrom !== null && (
          <>
            <dt>Reused</dt>
            <dd data-testid="reused-from">from run {step.reusedFrom}: no provider call, no cost</dd>
          </>
        )}
      </dl>
      {step.error && <p class="error">{step.error}</p>}
      {live ? (
        <pre class="streamed" data-testid="streamed">
          {step.streamed || "…"}
        </pre>
      ) : (
        step.output !== null && <pre data-testid="step-output">{step.output}</pre>
      )}
      {step.attempts.length > 0 && (
        <table class="list attempts">
          <thead>
            <tr>
              <th>Attempt</th>
              <th>Provider / model</th>
              <th>Took</th>
              <th>Outcome</th>
            </tr>
          </thead>
          <tbody>
            {step.attempts.map((a) => {
              const fallback = primary && (a.provider !== primary.provider || a.model !== primary.model);
              return (
                <tr key={`${a.iteration}.${a.attempt}`}>
                  <td>
                    {a.attempt + 1}
                    {a.iteration > 0 ? ` (iteration ${a.iteration})` : ""}
                  </td>
                  <td>
                    {a.provider}/{a.model}
                    {fallback ? " (fallback)" : ""}
                  </td>
                  <td>{duration(a.startedAt, a.endedAt)}</td>
                  <td>
                    {a.outcome}
                    {a.error ? ` — ${a.error}` : ""}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
