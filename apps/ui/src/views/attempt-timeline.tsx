import type { RunView } from "../run-state.js";

/** Every attempt of the run as a bar on one time axis: where the time went, retries included. */
export function AttemptTimeline({ view }: { view: RunView }) {
  const attempts = Object.values(view.steps).flatMap((s) => s.attempts.map((a) => ({ step: s.id, ...a })));
  if (attempts.length === 0) return null;
  const now = Date.now();
  const start = Math.min(...attempts.map((a) => Date.parse(a.startedAt)));
  const end = Math.max(...attempts.map((a) => (a.endedAt ? Date.parse(a.endedAt) : now)));
  const span = Math.max(1, end - start);
  return (
    <div class="timeline" data-testid="timeline">
      <h2>Timeline</h2>
      {attempts
        .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
        .map((a) => {
          const from = Date.parse(a.startedAt) - start;
          const to = (a.endedAt ? Date.parse(a.endedAt) : now) - start;
          return (
            <div class="lane" key={`${a.step}.${a.iteration}.${a.attempt}`}>
              <span class="lane-name">
                {a.step}
                {a.iteration > 0 ? ` #${a.iteration}` : ""} · attempt {a.attempt + 1}
              </span>
              <span class="lane-track">
                <span
                  class={`bar ${a.outcome}`}
                  style={{ left: `${(from / span) * 100}%`, width: `${Math.max(0.5, ((to - from) / span) * 100)}%` }}
                  title={`${a.provider}/${a.model}: ${to - from} ms, ${a.outcome}`}
                />
              </span>
            </div>
          );
        })}
    </div>
  );
}
