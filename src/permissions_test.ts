import assert from "node:assert/strict";
import { type ConfigEnvironment, parseConfig } from "./config/mod.ts";
import { UsageError } from "./errors.ts";
import {
  basePermissions,
  ENV_NAMES,
  IMDS_HOST,
  modePermissions,
  type PermissionMode,
  permissionSet,
  unionOf,
} from "./permissions.ts";

function configOf(text: string, vars: Record<string, string> = {}) {
  const environment: ConfigEnvironment = {
    env: (name) => vars[name],
    envEntries: () => Object.entries(vars),
    readTextFile: () => "secret\n",
  };
  return parseConfig(text, "/etc/cryptopipe/cryptopipe.toml", environment);
}

const at = (vars: Record<string, string> = {}) => ({
  env: (name: string) => vars[name],
  cwd: "/var/lib/cryptopipe",
});

/** The value list of one `--allow-x=` flag, or undefined when the flag is absent. */
function allowed(flags: string[], kind: string): string[] | undefined {
  const flag = flags.find((f) => f.startsWith(`--allow-${kind}=`));
  return flag?.slice(`--allow-${kind}=`.length).split(",");
}

const HOME = { HOME: "/var/lib/cryptopipe" };

Deno.test("permissions: produce gets the brokers and each selected source's host, no write, no AWS", () => {
  const config = configOf(`
[bus]
brokers = ["k1.internal:9092", "k2.internal:9094"]
[sources.cb]
type = "coinbase"
symbols = ["BTC-USD"]
[sources.kr]
type = "kraken_ws"
symbols = ["BTC-USD"]
[sources.gecko]
type = "coingecko"
symbols = ["BTC-USD"]
base_url = "http://127.0.0.1:8123/api/v3"
[sources.old]
type = "replay"
path = "data/old.csv"
`);
  const flags = modePermissions("produce", config, {}, at(HOME));
  assert.deepEqual(allowed(flags, "net"), [
    "127.0.0.1:8123",
    "api.exchange.coinbase.com:443",
    "k1.internal:9092",
    "k2.internal:9094",
    "ws.kraken.com:443",
  ]);
  assert.deepEqual(allowed(flags, "read"), [
    "/etc/cryptopipe/cryptopipe.toml",
    "/var/lib/cryptopipe/data/old.csv",
  ]);
  assert.equal(allowed(flags, "write"), undefined);
  assert.equal(allowed(flags, "sys"), undefined);
  assert.ok(!flags.some((f) => /^--allow-(run|ffi|all)/.test(f) || f === "--allow-net"));

  const onlyCb = modePermissions("produce", config, { sources: ["cb"] }, at(HOME));
  assert.deepEqual(allowed(onlyCb, "net"), [
    "api.exchange.coinbase.com:443",
    "k1.internal:9092",
    "k2.internal:9094",
  ]);
});

Deno.test("permissions: consume writes only the local lake; on S3 it gets the regional S3 hosts and IMDS", () => {
  const local = configOf(`[store]\npath = "/srv/lake"\n`);
  const flags = modePermissions("consume", local, {}, at(HOME));
  assert.deepEqual(allowed(flags, "write"), ["/srv/lake"]);
  assert.deepEqual(allowed(flags, "net"), ["127.0.0.1:9092"]);

  const s3 = configOf(`[store]\ntype = "s3"\nbucket = "my-lake"\nregion = "eu-west-1"\n`);
  const s3Flags = modePermissions("consume", s3, {}, at(HOME));
  assert.deepEqual(allowed(s3Flags, "net"), [
    "127.0.0.1:9092",
    IMDS_HOST,
    "my-lake.s3.eu-west-1.amazonaws.com",
    "s3.eu-west-1.amazonaws.com",
  ]);
  assert.equal(allowed(s3Flags, "write"), undefined);
  assert.deepEqual(allowed(s3Flags, "sys"), ["osRelease"]);
  // Without HOME the AWS SDK asks for the user id.
  assert.deepEqual(allowed(modePermissions("consume", s3, {}, at()), "sys"), ["osRelease", "uid"]);
  // Region from the environment, as the SDK would take it.
  const fromEnv = configOf(`[store]\ntype = "s3"\nbucket = "my-lake"\n`);
  assert.ok(
    allowed(
      modePermissions("consume", fromEnv, {}, at({ ...HOME, AWS_REGION: "us-east-2" })),
      "net",
    )!
      .includes("s3.us-east-2.amazonaws.com"),
  );
});

Deno.test("permissions: catalog glue gets Glue and S3 (partition listing), query athena gets Athena only", () => {
  const config = configOf(`
[store]
type = "s3"
bucket = "my-lake"
region = "eu-west-1"
[catalog]
type = "glue"
region = "eu-west-1"
[query]
engine = "athena"
region = "eu-west-1"
output_location = "s3://my-results/athena/"
`);
  const catalog = allowed(modePermissions("catalog", config, {}, at(HOME)), "net")!;
  assert.ok(catalog.includes("glue.eu-west-1.amazonaws.com"));
  assert.ok(catalog.includes("s3.eu-west-1.amazonaws.com"));
  assert.ok(!catalog.includes("127.0.0.1:9092"), "registering needs no broker");
  const compact = allowed(modePermissions("catalog", config, { compact: true }, at(HOME)), "net")!;
  assert.ok(compact.includes("127.0.0.1:9092"), "compaction reads committed offsets");
  const query = modePermissions("query", config, { output: "out/result.csv" }, at(HOME));
  assert.deepEqual(allowed(query, "net"), [
    IMDS_HOST,
    "athena.eu-west-1.amazonaws.com",
  ]);
  assert.deepEqual(allowed(query, "write"), ["/var/lib/cryptopipe/out/result.csv"]);
});

Deno.test("permissions: query on a local lake reads the lake, --file and writes only --output and --chart", () => {
  const config = configOf(`[store]\npath = "lake"\n`);
  const flags = modePermissions(
    "query",
    config,
    { sqlFile: "/tmp/q.sql", output: "/tmp/r.csv", chart: "/tmp/c.svg" },
    at(HOME),
  );
  assert.deepEqual(allowed(flags, "read"), [
    "/etc/cryptopipe/cryptopipe.toml",
    "/tmp/q.sql",
    "/var/lib/cryptopipe/lake",
  ]);
  assert.deepEqual(allowed(flags, "write"), ["/tmp/c.svg", "/tmp/r.csv"]);
  assert.equal(allowed(flags, "net"), undefined);
});

Deno.test("permissions: emulator endpoints replace AWS hosts; virtual-hosted style adds the bucket host", () => {
  const config = configOf(`
[store]
type = "s3"
bucket = "lake"
endpoint = "http://127.0.0.1:5000"
[catalog]
type = "glue"
endpoint = "http://localhost:5001"
`);
  const consume = allowed(modePermissions("consume", config, {}, at(HOME)), "net")!;
  assert.deepEqual(consume, ["127.0.0.1:5000", "127.0.0.1:9092", "lake.127.0.0.1:5000"]);
  const catalog = allowed(modePermissions("catalog", config, {}, at(HOME)), "net")!;
  assert.ok(catalog.includes("localhost:5001") && !catalog.includes(IMDS_HOST));
});

Deno.test("permissions: secrets' files and systemd credentials are readable, nothing else of /run", () => {
  const config = configOf(
    `
[bus.sasl]
mechanism = "scram-sha-512"
username = "u"
password_credential = "kafka-password"
[sources.cc]
type = "cryptocompare"
symbols = ["BTC-USD"]
api_key_file = "/etc/cryptopipe/cc.key"
`,
    { CREDENTIALS_DIRECTORY: "/run/credentials/x" },
  );
  const read = allowed(
    modePermissions(
      "produce",
      config,
      {},
      at({ ...HOME, CREDENTIALS_DIRECTORY: "/run/credentials/x" }),
    ),
    "read",
  );
  assert.deepEqual(read, [
    "/etc/cryptopipe/cc.key",
    "/etc/cryptopipe/cryptopipe.toml",
    "/run/credentials/x/kafka-password",
  ]);
});

Deno.test("permissions: sd_notify's two sockets when NOTIFY_SOCKET is set, in RUNTIME_DIRECTORY or per mode", () => {
  const config = configOf("");
  const systemd = { ...HOME, NOTIFY_SOCKET: "/run/systemd/notify", RUNTIME_DIRECTORY: "/run/cp" };
  assert.deepEqual(allowed(modePermissions("consume", config, {}, at(systemd)), "net"), [
    "127.0.0.1:9092",
    "unix:/run/cp/notify.sock",
    "unix:/run/systemd/notify",
  ]);
  const user = { ...HOME, NOTIFY_SOCKET: "/tmp/n.sock" };
  assert.ok(
    allowed(modePermissions("produce", config, {}, at(user)), "net")!.includes(
      "unix:/tmp/cryptopipe-notify-produce.sock",
    ),
  );
  assert.ok(
    !allowed(modePermissions("produce", config, {}, at(HOME)), "net")!.some((h) =>
      h.startsWith("unix:")
    ),
  );
});

Deno.test("permissions: every set carries the environment names, --ignore-env and --unstable-net", () => {
  const config = configOf("");
  for (const mode of ["produce", "consume", "catalog", "query"] as PermissionMode[]) {
    const flags = modePermissions(mode, config, {}, at(HOME));
    assert.deepEqual(allowed(flags, "env"), [...ENV_NAMES]);
    assert.ok(flags.includes("--ignore-env") && flags.includes("--unstable-net"));
  }
  assert.deepEqual(basePermissions(), [
    `--allow-env=${ENV_NAMES.join(",")}`,
    "--ignore-env",
    "--unstable-net",
  ]);
});

Deno.test("permissions: a path with a comma cannot be granted: a usage error names it", () => {
  const config = configOf(`[store]\npath = "/srv/a,b"\n`);
  assert.throws(
    () => modePermissions("consume", config, {}, at(HOME)),
    (e: unknown) => e instanceof UsageError && /"\/srv\/a,b".*comma/.test(e.message),
  );
});

Deno.test("permissions: the union of all modes (the compiled binary) holds each mode's set", () => {
  const config = configOf(`[sources.cb]\ntype = "coinbase"\nsymbols = ["BTC-USD"]\n`);
  const sets = (["produce", "consume", "catalog", "query"] as const).map((m) =>
    permissionSet(m, config, {}, at(HOME))
  );
  const union = unionOf(sets);
  for (const set of sets) {
    for (const kind of ["net", "read", "write", "sys"] as const) {
      for (const value of set[kind]) assert.ok(union[kind].has(value), `${kind} ${value}`);
    }
  }
  assert.ok(
    union.net.has("api.exchange.coinbase.com:443") && union.write.has("/var/lib/cryptopipe/lake"),
  );
});

Deno.test("permissions: files named by *_file keys in any section (e.g. TLS certificates) are granted; [metrics] listen to produce and consume only", () => {
  const loaded = configOf("");
  // Sections other features add; the schema of this build does not know them yet.
  const config = {
    ...loaded,
    bus: { ...loaded.bus, tls: { ca_file: "certs/ca.pem" } },
    metrics: { listen: "127.0.0.1:9464" },
  } as typeof loaded;
  const flags = modePermissions("consume", config, {}, at(HOME));
  assert.ok(allowed(flags, "read")!.includes("/var/lib/cryptopipe/certs/ca.pem"));
  assert.ok(allowed(flags, "net")!.includes("127.0.0.1:9464"));
  assert.ok(allowed(modePermissions("produce", config, {}, at(HOME)), "net")!.includes(
    "127.0.0.1:9464",
  ));
  // catalog and query are one-shot runs: they serve no endpoint.
  for (const mode of ["catalog", "query"] as const) {
    for (const modeFlags of [{}, { compact: true }]) {
      const net = allowed(modePermissions(mode, config, modeFlags, at(HOME)), "net") ?? [];
      assert.ok(!net.includes("127.0.0.1:9464"), `${mode} ${JSON.stringify(modeFlags)}`);
    }
  }
});

Deno.test("permissions: bus.sasl aws-msk-iam adds IMDS and osRelease wherever the brokers are granted", () => {
  const msk = configOf(`
[bus]
brokers = ["b-1.msk.eu-west-1.amazonaws.com:9098"]
[bus.tls]
[bus.sasl]
mechanism = "aws-msk-iam"
region = "eu-west-1"
`);
  for (
    const [mode, modeFlags] of [["produce", {}], ["consume", {}], ["catalog", {
      compact: true,
    }]] as const
  ) {
    const flags = modePermissions(mode, msk, modeFlags, at(HOME));
    assert.deepEqual(
      allowed(flags, "net"),
      [IMDS_HOST, "b-1.msk.eu-west-1.amazonaws.com:9098"],
      mode,
    );
    assert.deepEqual(allowed(flags, "sys"), ["osRelease"], mode);
  }
  // Without HOME the SDK asks for the user id, as for the other AWS clients.
  assert.deepEqual(allowed(modePermissions("produce", msk, {}, at()), "sys"), ["osRelease", "uid"]);
  // No brokers, no signing: catalog without --compact and query.
  for (const mode of ["catalog", "query"] as const) {
    const flags = modePermissions(mode, msk, {}, at(HOME));
    assert.equal(allowed(flags, "net"), undefined, mode);
    assert.equal(allowed(flags, "sys"), undefined, mode);
  }
  // scram: the brokers only.
  const scram = configOf(
    `
[bus]
brokers = ["k1.internal:9096"]
[bus.sasl]
mechanism = "scram-sha-512"
username = "u"
password_env = "CRYPTOPIPE_KAFKA_PASSWORD"
`,
    { CRYPTOPIPE_KAFKA_PASSWORD: "p" },
  );
  const flags = modePermissions("consume", scram, {}, at(HOME));
  assert.ok(!allowed(flags, "net")!.includes(IMDS_HOST));
  assert.equal(allowed(flags, "sys"), undefined);
});
