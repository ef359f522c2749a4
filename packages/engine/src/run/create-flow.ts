import { compileFlow, ValidationError, type HookCatalog } from "@ensemble/core";
import { insertFlow, type FlowRow } from "@ensemble/db";
import type { RunDeps } from "../engine-deps.js";
import { assertDataSharingAllowed } from "./check-data-sharing.js";

/**
 * Validates a definition in full and stores it (status `pending`). Problems are
 * reported with paths under `definition.` (the request body's field).
 */
export async function createFlow(
  deps: RunDeps,
  input: { threadId: string; userId: string; definition: unknown; hooks?: HookCatalog },
): Promise<FlowRow> {
  const compiled = compileFlow(input.definition, input.hooks ? { hooks: input.hooks } : {});
  if (!compiled.ok) {
    throw new ValidationError(
      compiled.issues.map((i) => ({ path: i.path ? `definition.${i.path}` : "definition", message: i.message })),
    );
  }
  await deps.providerCatalog.assertServed(compiled.flow);
  await assertDataSharingAllowed(deps.db, input.threadId, input.userId, compiled.flow);
  const definition = compiled.flow.definition;
  return insertFlow(deps.db, {
    threadId: input.threadId,
    userId: input.userId,
    name: definition.name,
    description: definition.description ?? null,
    flowType: definition.type,
    definition: definition,
  });
}
