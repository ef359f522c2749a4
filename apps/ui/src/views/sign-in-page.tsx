import { useState } from "preact/hooks";
import { api, ApiError } from "../api-client.js";
import { session } from "../session.js";

export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    try {
      await api.checkKey(key.trim());
      session.signIn(key.trim());
      onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "That API key is not valid." : (err as Error).message);
    }
  };
  return (
    <main class="sign-in">
      <h1>Ensemble runs</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="off"
          placeholder="ens_…"
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={!key.trim()}>
          Sign in
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <p class="hint">The key stays in this tab's session storage and is sent only to this API.</p>
      </form>
    </main>
  );
}
