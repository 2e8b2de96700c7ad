/**
 * The Athena engine against moto_server over HTTP. moto runs no SQL: results are queued through
 * its API, and its state manager steps a query through QUEUED and RUNNING. What moto cannot do
 * (fail a query, page results) is stubbed with SDK middleware, named as such in the tests.
 */
import assert from "node:assert/strict";
import { CreateWorkGroupCommand, GetQueryExecutionCommand } from "@aws-sdk/client-athena";
import { configSchema } from "../config/schema.ts";
import { CryptopipeError, EXIT } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import { athenaCostUsd, AthenaEngine, athenaValue } from "./athena.ts";

function endpoint(): string {
  const url = Deno.env.get("CRYPTOPIPE_TEST_S3_ENDPOINT");
  if (!url) throw new Error("CRYPTOPIPE_TEST_S3_ENDPOINT is not set: run `deno task test`");
  return url;
}

function engine(
  query: Record<string, unknown> = {},
  signal?: AbortSignal,
  logger: Logger = silentLogger,
): AthenaEngine {
  const config = configSchema.parse({
    query: {
      engine: "athena",
      endpoint: endpoint(),
      region: "us-east-1",
      output_location: "s3://athena-results/q/",
      ...query,
    },
  });
  return new AthenaEngine(config.query, "cryptopipe", logger, { pollMs: [20, 50], signal });
}

async function moto(path: string, body: unknown): Promise<void> {
  const response = await fetch(`${endpoint()}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
  });
  await response.body?.cancel();
  assert.ok(response.ok, `${path}: HTTP ${response.status}`);
}

const cells = (...values: Array<string | undefined>) => ({
  Data: values.map((v) => (v === undefined ? {} : { VarCharValue: v })),
});

async function queueResult(rows: unknown[], columns: Array<[string, string]>): Promise<void> {
  await moto("/moto-api/static/athena/query-results", {
    account_id: "123456789012",
    region: "us-east-1",
    results: [{ rows, column_info: columns.map(([Name, Type]) => ({ Name, Type })) }],
  });
}

Deno.test("athena (moto): a SELECT's rows come back typed, the header row dropped, NULL as null", async () => {
  await queueResult([
    cells("symbol", "price", "records"),
    cells("BTC-USD", "97000.5", "3"),
    cells("ETH-USD", undefined, "1"),
  ], [["symbol", "varchar"], ["price", "double"], ["records", "bigint"]]);
  const athena = engine();
  try {
    const result = await athena.run("SELECT symbol, price, records FROM ticker");
    assert.deepEqual(result.columns, ["symbol", "price", "records"]);
    assert.deepEqual(result.rows, [["BTC-USD", 97000.5, 3], ["ETH-USD", null, 1]]);
    assert.equal(result.truncated, false);
  } finally {
    athena.close();
  }
});

Deno.test("athena (moto): an empty result (Athena sends the header row only) is empty, not an error", async () => {
  await queueResult([cells("symbol")], [["symbol", "varchar"]]);
  const athena = engine();
  try {
    const result = await athena.run("SELECT symbol FROM ticker WHERE false");
    assert.deepEqual(result.rows, []);
    assert.deepEqual(result.columns, ["symbol"]);
  } finally {
    athena.close();
  }
});

Deno.test("athena (moto state manager): a query still running at query.timeout_secs is stopped in Athena", async () => {
  await moto("/moto-api/state-manager/set-transition", {
    model_name: "athena::execution",
    transition: { progression: "manual", times: 1000 },
  });
  const athena = engine({ timeout_secs: 0.3 });
  let stoppedId: string | undefined;
  try {
    await assert.rejects(
      () => athena.run("SELECT count(*) FROM ticker"),
      (error: Error) => {
        assert.match(
          error.message,
          /Athena query (\S+) stopped: still (QUEUED|RUNNING) after query\.timeout_secs = 0\.3/,
        );
        stoppedId = /query (\S+) stopped/.exec(error.message)![1];
        return true;
      },
    );
    const after = await athena.client.send(
      new GetQueryExecutionCommand({ QueryExecutionId: stoppedId }),
    );
    assert.equal(after.QueryExecution?.Status?.State, "CANCELLED");
  } finally {
    await moto("/moto-api/state-manager/unset-transition", { model_name: "athena::execution" });
    athena.close();
  }
});

Deno.test("athena (moto): Ctrl-C stops the query in Athena", async () => {
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 150);
  await moto("/moto-api/state-manager/set-transition", {
    model_name: "athena::execution",
    transition: { progression: "manual", times: 1000 },
  });
  const athena = engine({}, stop.signal);
  try {
    let stoppedId = "";
    await assert.rejects(() => athena.run("SELECT 1"), (error: Error) => {
      stoppedId = /^Athena query (\S+) stopped: interrupted$/.exec(error.message)?.[1] ?? "";
      return stoppedId !== "";
    });
    const after = await athena.client.send(
      new GetQueryExecutionCommand({ QueryExecutionId: stoppedId }),
    );
    assert.equal(after.QueryExecution?.Status?.State, "CANCELLED", "stopped in Athena too");
  } finally {
    await moto("/moto-api/state-manager/unset-transition", { model_name: "athena::execution" });
    athena.close();
  }
});

Deno.test("athena (SDK middleware stub: moto cannot fail a query): a failed query exits with Athena's reason", async () => {
  const athena = engine();
  athena.client.middlewareStack.add(
    (next, context) => (args) =>
      context.commandName === "GetQueryExecutionCommand"
        ? Promise.resolve({
          output: {
            $metadata: {},
            QueryExecution: {
              Status: {
                State: "FAILED",
                AthenaError: {
                  ErrorCategory: 2, // the user's query
                  ErrorMessage: "COLUMN_NOT_FOUND: line 1:8: Column 'nope'\ncannot be resolved",
                },
              },
            },
          },
          response: {},
        })
        : next(args),
    { step: "initialize", name: "failQueryStub" },
  );
  try {
    await assert.rejects(
      () => athena.run("SELECT nope FROM ticker"),
      (error: CryptopipeError) => {
        assert.match(
          error.message,
          /^Athena query \S+ FAILED: COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved$/,
        );
        assert.equal(error.exitCode, EXIT.usage, "a user error exits 2, as on DuckDB");
        return true;
      },
    );
  } finally {
    athena.close();
  }
});

Deno.test("athena (SDK middleware stub: moto returns one page): every page is read, the header only from the first", async () => {
  const athena = engine({ max_rows: 3 });
  const pages = [
    { rows: [cells("n"), cells("1"), cells("2")], next: "page-2" },
    { rows: [cells("3"), cells("4")], next: undefined },
  ];
  let served = 0;
  athena.client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName !== "GetQueryResultsCommand") return next(args);
      const page = pages[served++];
      return Promise.resolve({
        output: {
          $metadata: {},
          NextToken: page.next,
          ResultSet: {
            Rows: page.rows,
            ResultSetMetadata: { ColumnInfo: [{ Name: "n", Type: "integer" }] },
          },
        },
        response: {},
      });
    },
    { step: "initialize", name: "pagesStub" },
  );
  try {
    const result = await athena.run("SELECT n FROM ticker");
    assert.deepEqual(result.rows, [[1], [2], [3]], "the second page's first row is data");
    assert.equal(result.truncated, true, "4 rows exist, max_rows = 3");
    assert.equal(served, 2);
  } finally {
    athena.close();
  }
});

Deno.test("athena: cost is billed per MB rounded up, 10 MB minimum, $5 per TB; values are typed by column", () => {
  assert.equal(athenaCostUsd(0), 0);
  const tenMb = (10 * 1024 * 1024) / 1024 ** 4 * 5;
  assert.equal(athenaCostUsd(1), tenMb);
  assert.equal(athenaCostUsd(10 * 1024 * 1024 + 1), (11 * 1024 * 1024) / 1024 ** 4 * 5);
  assert.equal(athenaCostUsd(1024 ** 4), 5);
  assert.deepEqual(
    [
      athenaValue("42", "bigint"),
      athenaValue("1.5", "double"),
      athenaValue("true", "boolean"),
      athenaValue(undefined, "varchar"),
      athenaValue("2026-11-24", "varchar"),
      athenaValue("99999999999999999999", "bigint"),
    ],
    [42, 1.5, true, null, "2026-11-24", "99999999999999999999"],
  );
});

Deno.test("athena (moto): parameters go as positional ExecutionParameters, quoted as SQL literals", async () => {
  const athena = engine();
  let id: string | undefined;
  athena.client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === "StartQueryExecutionCommand") {
        id = (result.output as { QueryExecutionId?: string }).QueryExecutionId;
      }
      return result;
    },
    { step: "initialize", name: "recordId" },
  );
  try {
    await athena.run("SELECT * FROM ticker WHERE symbol LIKE ? AND dt >= ?", [
      "it's",
      "2026-11-24",
    ]);
    const execution = await athena.client.send(
      new GetQueryExecutionCommand({ QueryExecutionId: id }),
    );
    assert.deepEqual(execution.QueryExecution?.ExecutionParameters, ["'it''s'", "'2026-11-24'"]);
    assert.match(execution.QueryExecution?.Query ?? "", /symbol LIKE \? AND dt >= \?/);
  } finally {
    athena.close();
  }
});

Deno.test("athena (moto): the query starts in the configured workgroup, database and output location, with a request token", async () => {
  const workgroup = `wg-${crypto.randomUUID().slice(0, 8)}`;
  const athena = engine({ workgroup });
  await athena.client.send(new CreateWorkGroupCommand({ Name: workgroup }));
  let id: string | undefined;
  let token: string | undefined;
  athena.client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === "StartQueryExecutionCommand") {
        token = (args.input as { ClientRequestToken?: string }).ClientRequestToken;
        id = (result.output as { QueryExecutionId?: string }).QueryExecutionId;
      }
      return result;
    },
    { step: "initialize", name: "recordStart" },
  );
  try {
    await athena.run("SELECT 1");
    assert.match(token ?? "", /^[0-9a-f-]{36}$/);
    const { QueryExecution: execution } = await athena.client.send(
      new GetQueryExecutionCommand({ QueryExecutionId: id }),
    );
    assert.equal(execution?.WorkGroup, workgroup);
    assert.equal(execution?.QueryExecutionContext?.Database, "cryptopipe");
    // Athena reports the result file under the configured location.
    assert.match(
      execution?.ResultConfiguration?.OutputLocation ?? "",
      /^s3:\/\/athena-results\/q\//,
    );
  } finally {
    athena.close();
  }
});

Deno.test("athena (SDK middleware stub: moto cannot throttle): throttled status polls back off and the query still completes", async () => {
  await queueResult([cells("n"), cells("7")], [["n", "integer"]]);
  const athena = engine();
  let throttled = 0;
  athena.client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === "GetQueryExecutionCommand" && throttled < 3) {
        throttled++;
        const error = Object.assign(new Error("Rate exceeded"), {
          name: "TooManyRequestsException",
          $retryable: { throttling: true },
        });
        return Promise.reject(error);
      }
      return next(args);
    },
    { step: "initialize", name: "throttleStub" },
  );
  try {
    const result = await athena.run("SELECT n FROM ticker");
    assert.equal(throttled, 3);
    assert.deepEqual(result.rows, [[7]]);
  } finally {
    athena.close();
  }
});

Deno.test("athena (SDK middleware stub: moto cannot fail a status poll): a poll that fails for good stops the query in Athena before exiting", async () => {
  const athena = engine();
  let stopped: string | undefined;
  athena.client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === "GetQueryExecutionCommand") {
        return Promise.reject(
          Object.assign(new Error("boom"), { name: "InternalServerException" }),
        );
      }
      if (context.commandName === "StopQueryExecutionCommand") {
        stopped = (args.input as { QueryExecutionId: string }).QueryExecutionId;
      }
      return next(args);
    },
    { step: "initialize", name: "failPollStub" },
  );
  try {
    await assert.rejects(() => athena.run("SELECT 1"), /read the state of Athena query (\S+)/);
    assert.ok(stopped, "StopQueryExecution was sent");
  } finally {
    athena.close();
  }
});

Deno.test("athena (SDK middleware stub: moto reports zero statistics): data scanned, engine time and cost are logged", async () => {
  await queueResult([cells("n"), cells("1")], [["n", "integer"]]);
  const lines: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    info: (message, fields) => lines.push(`${message} ${JSON.stringify(fields)}`),
  };
  const athena = engine({}, undefined, logger);
  athena.client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === "GetQueryExecutionCommand") {
        const execution = (result.output as { QueryExecution?: Record<string, unknown> })
          .QueryExecution;
        if (execution) {
          execution.Statistics = {
            DataScannedInBytes: 3 * 1024 ** 3, // 3 GiB
            EngineExecutionTimeInMillis: 4321,
          };
        }
      }
      return result;
    },
    { step: "initialize", name: "statisticsStub" },
  );
  try {
    await athena.run("SELECT n FROM ticker");
    const line = lines.find((l) => l.startsWith("athena query finished"));
    assert.ok(line, lines.join("\n"));
    const fields = JSON.parse(line.slice("athena query finished ".length));
    assert.equal(fields.scanned_bytes, 3 * 1024 ** 3);
    assert.equal(fields.engine_ms, 4321);
    assert.equal(fields.estimated_cost_usd, (3 / 1024 * 5).toFixed(6));
  } finally {
    athena.close();
  }
});
