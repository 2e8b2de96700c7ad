/**
 * consume into S3 through the loopback fault proxy (tests/fault_proxy.ts) in front of
 * moto_server: 500 InternalError, 503 SlowDown, connection resets after the write happened and
 * slow responses. The SDK retries; an upload that still fails makes consume exit 3, and the test
 * restarts it as systemd would. Checked (reliability-and-bench.md §2): commit safety sampled
 * while it runs, then exactly-once by the oracle. The lake is read through moto directly.
 * CRYPTOPIPE_FAULT_SEED=<n> repeats a run's fault plan (request order still varies).
 */
import assert from "node:assert/strict";
import { createBus } from "../src/bus/mod.ts";
import { configSchema } from "../src/config/schema.ts";
import { createEncoder } from "../src/encode/mod.ts";
import { silentLogger } from "../src/log.ts";
import { S3Store } from "../src/store/s3.ts";
import { FAULT_KINDS, startFaultProxy } from "./fault_proxy.ts";
import {
  AWS_TEST_ENV,
  baseToml,
  cli,
  cliCommand,
  freshBucket,
  kcatDump,
  testBrokers,
  testS3Endpoint,
  testS3Store,
  uniqueName,
  workspace,
} from "./helpers.ts";
import { assertExactlyOnce } from "./oracle.ts";

const N = 20_000;
/** Consumer rounds with faults before the store recovers (CI default 6; printed). */
const FAULTY_ROUNDS = Number(Deno.env.get("CRYPTOPIPE_FAULT_S3_ROUNDS") ?? 6);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Durable lake offsets by partition, read through moto; objects are write-once, so cached. */
class LakeView {
  readonly #decoded = new Map<string, Array<[number, number]>>();
  readonly #parquet = createEncoder("parquet");
  constructor(readonly store: S3Store) {}

  async offsets(): Promise<Map<number, Set<number>>> {
    const byPartition = new Map<number, Set<number>>();
    for (const key of await this.store.list("ticker")) {
      let rows = this.#decoded.get(key);
      if (!rows) {
        rows = (await this.#parquet.decode(await this.store.read(key))).map((
          r,
        ) => [r._kafka_partition as number, r._kafka_offset as number]);
        this.#decoded.set(key, rows);
      }
      for (const [p, o] of rows) {
        const set = byPartition.get(p) ?? byPartition.set(p, new Set()).get(p)!;
        set.add(o);
      }
    }
    return byPartition;
  }
}

Deno.test(
  "s3 faults (loopback fault proxy in front of moto): 500, 503 SlowDown, resets and slow responses lose nothing, duplicate nothing, and commit nothing for failed uploads",
  async () => {
    const started = Date.now();
    const seed = Number(
      Deno.env.get("CRYPTOPIPE_FAULT_SEED") ?? Math.floor(Math.random() * 2 ** 31),
    );
    assert.ok(Number.isSafeInteger(seed), "CRYPTOPIPE_FAULT_SEED must be an integer");
    console.log(
      `fault seed ${seed} (CRYPTOPIPE_FAULT_SEED=${seed} repeats the plan); up to ${FAULTY_ROUNDS} faulty rounds (CRYPTOPIPE_FAULT_S3_ROUNDS)`,
    );

    const moto = testS3Endpoint();
    const bucket = await freshBucket();

    // 25 % of writes (and reads: the 412 path reads the existing file back) are faulted. The
    // first upload is scripted: it lands but its response breaks (reset), then 500 and 503
    // use up its 3 attempts. So round 1 always fails on an upload that did happen, and the
    // restart must meet that object (412) and skip its rows. Every kind is injected for sure.
    const proxy = startFaultProxy({
      upstream: moto,
      seed,
      methods: ["PUT", "POST", "GET"],
      rates: { status500: 0.08, slowdown503: 0.04, reset: 0.08, latency: 0.05 },
      latencyMs: 400,
      first: ["reset", "status500", "slowdown503", "latency"],
    });
    const brokers = testBrokers();
    const bus = createBus(
      {
        ...configSchema.parse({ bus: { brokers: brokers.split(",") } }),
        file: "",
        secrets: { sourceApiKeys: {} },
      },
      silentLogger,
    );
    try {
      const topic = uniqueName("s3faults");
      const group = uniqueName("group");
      const { config } = await workspace(
        baseToml(
          topic,
          group,
          `
[sources.sim]
type = "simulated"
rate_per_second = 100000

[encode]
format = "parquet"

[batch]
max_records = 500
max_age_secs = 0.5
until_idle_secs = 1.5
`,
        ).replace(
          /\[store\]\npath = "\{lake\}"\n/,
          `[store]
type = "s3"
bucket = "${bucket}"
prefix = "lake"
endpoint = "${proxy.url}"
force_path_style = true
region = "us-east-1"
max_attempts = 3
`,
        ),
      );
      const produced = await cli([
        "--mode",
        "produce",
        "--config",
        config,
        "--max-records",
        `${N}`,
      ]);
      assert.equal(produced.code, 0, produced.stderr);
      const inTopic = new Map<number, number[]>();
      for (const m of await kcatDump(brokers, topic)) {
        inTopic.set(m.partition, [...(inTopic.get(m.partition) ?? []), m.offset]);
      }
      assert.equal([...inTopic.values()].flat().length, N);

      const direct = testS3Store(bucket, "lake");
      const lake = new LakeView(direct);

      // Commit safety: committed offsets first, then the lake (which only grows), so a commit
      // made after its write always finds that write. Every offset below a commit is durable.
      let samples = 0;
      const checkCommits = async () => {
        const committed = await bus.committedOffsets(group, topic);
        const durable = await lake.offsets();
        for (const [partition, next] of committed) {
          const have = durable.get(partition) ?? new Set<number>();
          const max = Math.max(-1, ...have);
          assert.ok(
            next <= max + 1,
            `partition ${partition}: committed ${next} but the lake holds offsets up to ${max}`,
          );
          const missing = (inTopic.get(partition) ?? []).filter((o) => o < next && !have.has(o));
          assert.deepEqual(
            missing.slice(0, 10),
            [],
            `partition ${partition}: committed ${next}, but ${missing.length} offsets below are not in the lake`,
          );
        }
        samples++;
      };

      // Restart until a clean exit, as systemd would; faults stop after FAULTY_ROUNDS rounds
      // (liveness once the store recovers).
      const rounds: number[] = [];
      let metExisting = 0;
      for (let round = 1; round <= FAULTY_ROUNDS + 1; round++) {
        if (round > FAULTY_ROUNDS) proxy.setRates({});
        const child = cliCommand(
          ["--mode", "consume", "--config", config, "--until-idle", "--log-level", "info"],
          AWS_TEST_ENV,
        ).spawn();
        const stderr = new Response(child.stderr).text();
        await child.stdout.cancel();
        let running = true;
        const status = child.status.finally(() => (running = false));
        while (running) {
          await Promise.race([status, sleep(700)]);
          await checkCommits();
        }
        const { code } = await status;
        const errors = (await stderr).split("\n").filter((l) => l.startsWith("error:"));
        metExisting += (await stderr).match(/file already in the lake/g)?.length ?? 0;
        rounds.push(code);
        if (code === 0) break;
        assert.equal(code, 3, `round ${round}: a store failure exits 3\n${await stderr}`);
        assert.equal(errors.length, 1, `round ${round}: one error line\n${await stderr}`);
        assert.match(errors[0], /^error: Cannot (write|read|list) s3:\/\/\S+: /, errors[0]);
        assert.ok(!/^\s+at /m.test(await stderr), "no stack trace");
      }
      await checkCommits();
      assert.equal(rounds.at(-1), 0, `consume finished after restarts (exit codes ${rounds})`);

      // Every partition committed to its end, and the lake is the topic exactly once.
      const committed = await bus.committedOffsets(group, topic);
      for (const [partition, offsets] of inTopic) {
        assert.equal(committed.get(partition), Math.max(...offsets) + 1, `partition ${partition}`);
      }
      const check = await assertExactlyOnce({ brokers, topic, store: direct });
      assert.equal(check.rows, N);

      // Not vacuous: every kind was injected, faults outlasted the SDK's retries at least once
      // (a restart), and an object whose upload looked failed was met again (412) and skipped.
      for (const kind of FAULT_KINDS) assert.ok(proxy.injected[kind] > 0, `${kind} injected`);
      const restarts = rounds.length - 1;
      assert.ok(restarts >= 1, "at least one round failed and was restarted");
      assert.ok(
        metExisting >= 1,
        "the 412 path ran: an upload that looked failed had landed, and was met and skipped",
      );
      console.log(
        `faults injected ${JSON.stringify(proxy.injected)} over ${proxy.requests.eligible} ` +
          `eligible of ${proxy.requests.total} requests; consumer rounds exit codes ${rounds} ` +
          `(${restarts} restarts); ${metExisting} existing files met; ${check.files} files; ` +
          `${samples} commit samples; ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      assert.ok(samples >= rounds.length);
    } finally {
      await bus.close();
      await proxy.close();
    }
  },
);
