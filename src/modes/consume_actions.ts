/**
 * consume does one of three things: run the lake consumer (the default), move the group's
 * committed offsets (--reset-offsets), or re-read a bounded range into another table
 * (--reread). Their flags do not mix; a wrong mix is one line and exit 2.
 */
import { UsageError } from "../errors.ts";
import { consume } from "./consume.ts";
import type { ModeContext } from "./context.ts";
import { reread } from "./reread.ts";
import { resetOffsets } from "./reset.ts";

const RANGE_FLAGS = [
  ["fromOffset", "--from-offset"],
  ["toOffset", "--to-offset"],
  ["fromTime", "--from-time"],
  ["toTime", "--to-time"],
  ["intoTable", "--into-table"],
] as const;

export async function runConsume(ctx: ModeContext): Promise<void> {
  const { flags } = ctx;
  const resetting = flags.resetOffsets !== undefined;
  if (resetting && flags.reread) {
    throw new UsageError("--reset-offsets and --reread are separate runs; give one of them");
  }
  if ((resetting || flags.reread) && flags.untilIdle) {
    throw new UsageError("--until-idle is for the lake consumer, not --reset-offsets or --reread");
  }
  if (!flags.reread) {
    const stray = RANGE_FLAGS.find(([key]) => flags[key] !== undefined);
    if (stray) throw new UsageError(`${stray[1]} goes with --reread only`);
  }
  if (!resetting && flags.dryRun) {
    throw new UsageError("--mode consume takes --dry-run only with --reset-offsets");
  }
  if (!resetting && !flags.reread && flags.partitions !== undefined) {
    throw new UsageError("--partition goes with --reset-offsets or --reread only");
  }
  if (resetting) await resetOffsets(ctx, flags.resetOffsets!);
  else if (flags.reread) await reread(ctx);
  else await consume(ctx);
}
