/**
 * The IAM policies of deploy/iam/ as the tests use them: placeholders filled from a config, and
 * IAM's own matching of actions and resource ARNs (`*` and `?` globs, case-sensitive ARNs).
 * Conditions are not evaluated here, as moto does not evaluate them either.
 */
import { join } from "node:path";
import type { Config } from "../src/config/schema.ts";
import { REPO_ROOT } from "./helpers.ts";

export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, unknown>;
}

export interface PolicyDocument {
  Version: string;
  Statement: Statement[];
}

export type Mode = "consume" | "catalog" | "query";

/** The `${…}` placeholders deploy/iam/README.md lists, with their values for one config. */
export function placeholders(
  config: Config,
  account: { region: string; accountId: string; lakeKmsKeyArn?: string; resultsKmsKeyArn?: string },
): Record<string, string> {
  const results = config.query.output_location?.match(/^s3:\/\/([^/]+)\/?(.*)$/);
  const none = "arn:aws:kms:none:000000000000:key/none"; // no SSE-KMS: a key that never matches
  return {
    Region: account.region,
    AccountId: account.accountId,
    LakeBucket: config.store.bucket ?? "",
    LakePrefix: config.store.prefix ? `${config.store.prefix}/` : "",
    Database: config.catalog.database,
    Workgroup: config.query.workgroup,
    ResultsBucket: results?.[1] ?? "",
    ResultsPrefix: results?.[2] ?? "",
    LakeKmsKeyArn: account.lakeKmsKeyArn ?? none,
    ResultsKmsKeyArn: account.resultsKmsKeyArn ?? none,
  };
}

/** deploy/iam/<mode>.json with every placeholder filled; an unknown one is an error. */
export async function filledPolicy(
  mode: Mode,
  values: Record<string, string>,
): Promise<PolicyDocument> {
  const text = await Deno.readTextFile(join(REPO_ROOT, "deploy", "iam", `${mode}.json`));
  const filled = text.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`deploy/iam/${mode}.json: unknown placeholder ${name}`);
    return values[name];
  });
  return JSON.parse(filled);
}

const list = (value: string | string[]): string[] => [value].flat();

function glob(pattern: string, value: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")
    .replaceAll("?", ".");
  return new RegExp(`^${regex}$`).test(value);
}

/** Whether an Allow statement (and no Deny) covers `action` on `resource`, conditions ignored. */
export function allows(policy: PolicyDocument, action: string, resource: string): boolean {
  const matching = policy.Statement.filter((s) =>
    list(s.Action).some((a) => glob(a.toLowerCase(), action.toLowerCase())) &&
    list(s.Resource).some((r) => glob(r, resource))
  );
  return matching.some((s) => s.Effect === "Allow") && !matching.some((s) => s.Effect === "Deny");
}

/**
 * moto checks Glue and Athena actions only against `Resource: "*"` (it has no ARNs for them):
 * the same policy with those statements' resources widened, S3 and KMS ARNs kept.
 */
export function glueAndAthenaOnStar(policy: PolicyDocument): PolicyDocument {
  return {
    ...policy,
    Statement: policy.Statement.map((s) =>
      list(s.Action).every((a) => /^(glue|athena):/.test(a)) ? { ...s, Resource: "*" } : s
    ),
  };
}

/** The policy without one action (a statement left with none is dropped). */
export function withoutAction(policy: PolicyDocument, action: string): PolicyDocument {
  return {
    ...policy,
    Statement: policy.Statement.map((s) => ({
      ...s,
      Action: list(s.Action).filter((a) => a !== action),
    })).filter((s) => s.Action.length > 0),
  };
}
