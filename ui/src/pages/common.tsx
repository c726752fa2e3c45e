// Small pieces every page uses: loading data with its error, and an error line.
import { useCallback, useEffect, useState } from "react";

export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
): [T | undefined, string | null, () => void, (value: T) => void] {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(() => {
    load()
      .then((v) => {
        setValue(v);
        setError(null);
      })
      .catch((e) => setError(e instanceof Error ? e.message : String(e)));
  }, deps);
  useEffect(reload, [reload]);
  return [value, error, reload, setValue];
}

export function ErrorLine({ error }: { error: string | null }) {
  return error ? (
    <p role="alert" className="error">
      {error}
    </p>
  ) : null;
}

export const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
