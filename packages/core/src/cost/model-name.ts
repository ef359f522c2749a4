/**
 * The name under which a model is priced: vendors report the same model as
 * `models/gemini-2.5-pro` (Google's resource name) or `claude-sonnet-4-5`
 * (an alias), and the table lists it once. Lower-cased, as vendors' ids are.
 */
export function normalizeModelName(model: string): string {
  let name = model.trim().toLowerCase();
  if (name.startsWith("models/")) name = name.slice("models/".length);
  if (name.endsWith("-latest")) name = name.slice(0, -"-latest".length);
  return name;
}
