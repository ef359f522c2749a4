import { api } from "../api-client.js";
import { when } from "../format.js";
import { useLoad } from "./use-load.js";

export function ThreadsPage() {
  const threads = useLoad(() => api.listThreads(), []);
  if (threads.state === "loading") return <p class="muted">Loading threads…</p>;
  if (threads.state === "failed") return <p class="error">{threads.message}</p>;
  return (
    <section>
      <h1>Threads</h1>
      {threads.value.items.length === 0 ? (
        <p class="muted">No threads yet. Create one with POST /v1/threads.</p>
      ) : (
        <table class="list">
          <thead>
            <tr>
              <th>Title</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {threads.value.items.map((t) => (
              <tr key={t.id}>
                <td>
                  <a href={`#/threads/${encodeURIComponent(t.id)}`}>{t.title}</a>
                </td>
                <td>{when(t.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {threads.value.total > threads.value.items.length && (
        <p class="muted">
          Showing the newest {threads.value.items.length} of {threads.value.total}.
        </p>
      )}
    </section>
  );
}
