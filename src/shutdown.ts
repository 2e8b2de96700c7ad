/**
 * SIGINT/SIGTERM handling: the first signal asks the mode to finish cleanly (flush, commit,
 * exit 0); a second one means "now" and calls `onForce` (main.ts exits).
 */
export function shutdownSignal(onForce: () => void): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) onForce();
    else controller.abort();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, handler);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const s of signals) Deno.removeSignalListener(s, handler);
    },
  };
}
