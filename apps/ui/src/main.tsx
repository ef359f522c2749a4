import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { session } from "./session.js";
import { FlowsPage } from "./views/flows-page.js";
import { RunPage } from "./views/run-page.js";
import { SignInPage } from "./views/sign-in-page.js";
import { ThreadsPage } from "./views/threads-page.js";
import "./style.css";

/** Routes live in the hash (#/threads/:id, #/flows/:id, #/flows/:id/runs/:run): the API serves one page at /ui/. */
function useHashRoute(): string[] {
  const parse = (): string[] => location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const onChange = (): void => setRoute(parse());
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

function App() {
  const [signedIn, setSignedIn] = useState(session.apiKey() !== null);
  const route = useHashRoute();
  if (!signedIn) return <SignInPage onSignedIn={() => setSignedIn(true)} />;
  const signOut = (): void => {
    session.signOut();
    setSignedIn(false);
    location.hash = "";
  };
  const [section, id, sub, run] = route;
  return (
    <>
      <header class="top">
        <a href="#/" class="brand">
          Ensemble runs
        </a>
        <button type="button" class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        {section === "threads" && id ? (
          <FlowsPage threadId={id} />
        ) : section === "flows" && id ? (
          <RunPage flowId={id} run={sub === "runs" && run ? Number(run) : null} />
        ) : (
          <ThreadsPage />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
