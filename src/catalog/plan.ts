/**
 * What registering a table would do: create it, update it (with the differences as lines a
 * person can read, the `--dry-run` output), leave it alone, or refuse. Both catalogs describe
 * their tables in the same neutral shape, so Glue and the local catalog follow one rule:
 * readers of files already written must keep working, which allows only new nullable columns
 * at the end and changes of comments, description, location or table properties.
 */

export interface ColumnShape {
  readonly name: string;
  /** In the catalog's own type names (Glue: double, bigint, ...). */
  readonly type: string;
  readonly comment?: string;
  /** Only known for the code's side; catalogs such as Glue do not record it. */
  readonly nullable?: boolean;
}

export interface TableShape {
  readonly columns: readonly ColumnShape[];
  /** "name type", in order. */
  readonly partitionKeys: readonly string[];
  readonly format: string;
  readonly location: string;
  readonly description: string;
  readonly properties: Readonly<Record<string, string>>;
}

export type PlanAction = "create" | "update" | "unchanged" | "refuse";

export interface TablePlan {
  /** database.table */
  readonly table: string;
  readonly action: PlanAction;
  /** What would change: `+ ` added, `- ` removed, `~ ` changed. */
  readonly changes: readonly string[];
  /** Why the change is refused (action = "refuse"). */
  readonly problems: readonly string[];
}

/** Compare the catalog's table (`have`, undefined when absent) with the code's (`want`). */
export function planTable(
  table: string,
  have: TableShape | undefined,
  want: TableShape,
  where: string,
): TablePlan {
  if (!have) {
    return {
      table,
      action: "create",
      changes: [
        `+ table ${table} (${want.format}) at ${want.location}`,
        ...want.columns.map((c) => `+ column ${c.name} ${c.type}`),
        ...want.partitionKeys.map((k) => `+ partition key ${k}`),
      ],
      problems: [],
    };
  }
  const changes: string[] = [];
  const problems: string[] = [];
  have.columns.forEach((old, i) => {
    const mine = want.columns[i];
    if (!mine) {
      problems.push(`column ${old.name} is in ${where} but no longer in the code`);
      changes.push(`- column ${old.name} ${old.type}`);
    } else if (mine.name !== old.name || mine.type !== old.type) {
      problems.push(
        `column ${
          i + 1
        } is ${old.name} ${old.type} in ${where}, ${mine.name} ${mine.type} in the code`,
      );
      changes.push(`~ column ${i + 1}: ${old.name} ${old.type} → ${mine.name} ${mine.type}`);
    } else if ((mine.comment ?? "") !== (old.comment ?? "")) {
      changes.push(`~ comment of column ${mine.name}`);
    }
  });
  for (const added of want.columns.slice(have.columns.length)) {
    changes.push(`+ column ${added.name} ${added.type}`);
    if (added.nullable === false) {
      problems.push(`new column ${added.name} is not nullable (files already written lack it)`);
    }
  }
  const keys = (list: readonly string[]) => `(${list.join(", ")})`;
  if (keys(have.partitionKeys) !== keys(want.partitionKeys)) {
    problems.push(
      `partition keys are ${keys(have.partitionKeys)} in ${where}, ${
        keys(want.partitionKeys)
      } in the code`,
    );
    changes.push(`~ partition keys ${keys(have.partitionKeys)} → ${keys(want.partitionKeys)}`);
  }
  if (have.format !== want.format) {
    problems.push(`format is ${have.format} in ${where}, ${want.format} in the code`);
    changes.push(`~ format ${have.format} → ${want.format}`);
  }
  if (have.location !== want.location) {
    changes.push(`~ location ${have.location} → ${want.location}`);
  }
  if (have.description !== want.description) changes.push(`~ description`);
  const names = [...new Set([...Object.keys(have.properties), ...Object.keys(want.properties)])];
  for (const name of names.sort()) {
    const [before, after] = [have.properties[name], want.properties[name]];
    if (before === after) continue;
    if (before === undefined) changes.push(`+ property ${name} = ${after}`);
    else if (after === undefined) changes.push(`- property ${name} (was ${before})`);
    else changes.push(`~ property ${name}: ${before} → ${after}`);
  }
  const action = problems.length > 0 ? "refuse" : changes.length > 0 ? "update" : "unchanged";
  return { table, action, changes, problems };
}

/** A refused plan's problems for a one-line error: the first few, then how many more. */
export function problemSummary(plan: TablePlan, shown = 3): string {
  const more = plan.problems.length - shown;
  return plan.problems.slice(0, shown).join("; ") +
    (more > 0 ? `; and ${more} more (see --mode catalog --dry-run)` : "");
}

/** The `--dry-run` report: one block per table. */
export function formatPlans(plans: readonly TablePlan[]): string {
  const blocks = plans.map((plan) => {
    const head = `${plan.table}: ${
      {
        create: "would be created",
        update: "would be updated",
        unchanged: "unchanged",
        refuse: "would be REFUSED (breaking change)",
      }[plan.action]
    }`;
    const lines = [head, ...plan.changes.map((c) => `  ${c}`)];
    for (const problem of plan.problems) lines.push(`  ! ${problem}`);
    return lines.join("\n");
  });
  return blocks.join("\n\n") + "\n";
}
