import { api } from "../api-client.js";
import { duration, usd, when } from "../format.js";
import { useLoad } from "./use-load.js";

export function FlowsPage({ threadId }: { threadId: string }) {
  const page = useLoad(
    async () => ({ thread: await api.getThread(threadId), flows: await api.listFlows(threadId) }),
    [threadId],
  );
  if (page.state === "loading") return <p class="muted">Loading flows…</p>;
  if (page.state === "failed") return <p class="error">{page.message}</p>;
  const { thread, flows } = page.value;
  return (
    <section>
      <p class="crumbs">
        <a href="#/">Threads</a> / {thread.title}
      </p>
      <h1>Flows</h1>
      {flows.items.length === 0 ? (
        <p class="muted">No flows in this thread.</p>
      ) : (
        <table class="list">
          <thead>
            <tr>
              <th>Flow</th>
              <th>Type</th>
              <th>Status</th>
              <th>Run</th>
              <th>Cost</th>
              <th>Tokens</th>
              <th>Started</th>
              <th>Took</th>
            </tr>
          </thead>
          <tbody>
            {flows.items.map((f) => (
              <tr key={f.id}>
                <td>
                  <a href={`#/flows/${encodeURIComponent(f.id)}`}>{f.name}</a>
                </td>
                <td>{f.flowType}</td>
                <td>
                  <span class={`badge ${f.status}`}>{f.status}</span>
                </td>
                <td>{f.run}</td>
                <td>{usd(f.totalCost)}</td>
                <td>{f.totalTokens}</td>
                <td>{when(f.startedAt)}</td>
                <td>{duration(f.startedAt, f.completedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
