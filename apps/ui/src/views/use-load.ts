import { useEffect, useState } from "preact/hooks";

export type Loaded<T> = { state: "loading" } | { state: "ready"; value: T } | { state: "failed"; message: string };

/** Loads once per change of `deps`; a result that arrives after the page moved on is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  useEffect(() => {
    let current = true;
    setLoaded({ state: "loading" });
    load().then(
      (value) => current && setLoaded({ state: "ready", value }),
      (err: Error) => current && setLoaded({ state: "failed", message: err.message }),
    );
    return () => {
      current = false;
    };
  }, deps);
  return loaded;
}
