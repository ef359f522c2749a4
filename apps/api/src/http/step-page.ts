import { toFlowStepResult } from "@ensemble/engine";
import { listRunStepsPage, type Database, type FlowRow, type StepPageCursor } from "@ensemble/db";
import { STEP_PAGE_LIMITS } from "@ensemble/core";

export interface StepPage {
  flowId: string;
  run: number;
  items: ReturnType<typeof toFlowStepResult>[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

/**
 * One page of the latest run's step results, in the order of GET /v1/flows/:flowId's
 * `stepResults` (iteration, then step). The page ends at `limit` results or once their
 * outputs pass STEP_PAGE_LIMITS.outputChars, whichever comes first.
 */
export async function readStepPage(
  db: Database,
  flow: FlowRow,
  cursor: string | undefined,
  limit: number,
): Promise<StepPage> {
  const rows = await listRunStepsPage(db, flow.id, flow.run, parseCursor(cursor), limit + 1);
  const items: StepPage["items"] = [];
  let outputChars = 0;
  for (const row of rows.slice(0, limit)) {
    if (items.length > 0 && outputChars >= STEP_PAGE_LIMITS.outputChars) break;
    items.push(toFlowStepResult(row));
    outputChars += row.output?.length ?? 0;
  }
  // Results are a prefix of the rows read: any row left over means another page.
  const last = rows[items.length - 1];
  return {
    flowId: flow.id,
    run: flow.run,
    items,
    nextCursor: items.length < rows.length && last ? `${last.iteration}.${last.stepIndex}` : null,
  };
}

function parseCursor(cursor: string | undefined): StepPageCursor | null {
  if (cursor === undefined) return null;
  const [iteration, stepIndex] = cursor.split(".").map(Number);
  return { iteration: iteration ?? 0, stepIndex: stepIndex ?? 0 };
}
