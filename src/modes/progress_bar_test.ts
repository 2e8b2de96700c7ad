import assert from "node:assert/strict";
import { renderProgressBar, TtyProgress } from "./progress_bar.ts";

Deno.test("progress bar: fraction of the file, records, rate and ETA", () => {
  assert.equal(
    renderProgressBar(450, 1000, 123_456, 10),
    "[##############················] 45%  123,456 records  12,346/s  ETA 0:12",
  );
  assert.equal(
    renderProgressBar(0, 1000, 0, 0),
    "[······························] 0%  0 records  0/s  ETA ?",
  );
  assert.match(renderProgressBar(2000, 1000, 10, 1), /^\[#{30}\] 100% .* ETA 0:00$/);
});

Deno.test("progress bar on a TTY: redrawn in place, cleared when stopped", async () => {
  const written: string[] = [];
  const progress = new TtyProgress((t) => written.push(t), () => ({
    done: 1,
    total: 2,
    records: 5,
  }), 10);
  await new Promise((r) => setTimeout(r, 35));
  progress.stop();
  assert.ok(written.length >= 3, `${written.length} writes`);
  assert.ok(written.slice(0, -1).every((w) => w.startsWith("\r\x1b[K[") && w.includes("50%")));
  assert.equal(written.at(-1), "\r\x1b[K");
});
