import assert from "node:assert/strict";
import { EXIT } from "../errors.ts";
import { kafkaFailure } from "./kafka.ts";

/** What kafkajs keeps of a Deno sandbox refusal: the message, under its retry wrapper. */
function refusedConnection(address: string): Error {
  const connection = new Error(
    `Connection error: Requires net access to "${address}", run again with the --allow-net flag`,
  );
  connection.name = "KafkaJSConnectionError";
  const retries = new Error(connection.message);
  retries.name = "KafkaJSNumberOfRetriesExceeded";
  Object.assign(retries, { originalError: connection });
  return retries;
}

Deno.test("kafkaFailure: a sandbox-refused connection is exit 4 and names the address and the fix", () => {
  const advertised = kafkaFailure(
    "connect to Kafka",
    ["localhost:9092"],
    refusedConnection("127.0.0.1:9092"),
  );
  assert.equal(advertised.exitCode, EXIT.auth);
  assert.equal(
    advertised.message,
    "Cannot connect to Kafka at localhost:9092: not permitted to connect to 127.0.0.1:9092 (bus.brokers does not name it; a broker advertises it: list that address in bus.brokers)",
  );
  const listed = kafkaFailure(
    "connect to Kafka",
    ["127.0.0.1:9092"],
    refusedConnection("127.0.0.1:9092"),
  );
  assert.equal(listed.exitCode, EXIT.auth);
  assert.match(listed.message, /\(this mode's permissions \(--print-permissions\) lack it\)$/);
  // A refused connection of another kind stays a runtime failure (exit 3).
  const down = kafkaFailure(
    "connect to Kafka",
    ["127.0.0.1:9092"],
    new Error("connect ECONNREFUSED"),
  );
  assert.equal(down.exitCode, EXIT.runtime);
});
