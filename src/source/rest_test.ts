import assert from "node:assert/strict";
import { retryAfterMs } from "./rest.ts";

Deno.test("Retry-After: seconds or an HTTP date, never negative, capped at a day (timers overflow past 24.8 days)", () => {
  const now = Date.UTC(2026, 10, 24, 12);
  assert.equal(retryAfterMs("3", now), 3000);
  assert.equal(retryAfterMs("259200", now), 86_400_000, "a 3-day Binance ban waits one day");
  assert.equal(retryAfterMs(new Date(now + 90_000).toUTCString(), now), 90_000);
  assert.equal(retryAfterMs(new Date(now - 90_000).toUTCString(), now), 0, "a past date");
  assert.equal(retryAfterMs("soon", now), undefined);
  assert.equal(retryAfterMs(null, now), undefined);
});
