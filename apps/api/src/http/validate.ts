import { issuesFromZod, ValidationError } from "@ensemble/core";
import type { z } from "zod";

/** Parses a request part; failures name each field by path (e.g. `definition.steps[2].condition`). */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown, prefix: PropertyKey[] = []): z.infer<S> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw new ValidationError(issuesFromZod(result.error, prefix));
  return result.data;
}
