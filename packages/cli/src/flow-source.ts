import { readFileSync } from "node:fs";
import { extname } from "node:path";
import type { EnsembleClient, FlowDefinitionInput } from "@ensemble/sdk";
import { parse as parseYaml } from "yaml";
import { UsageError } from "./exit-codes.js";

/**
 * What `ensemble run` runs: a flow definition file (.yaml, .yml or .json), or the name of
 * a template built on the server with `--param key=value` parameters.
 */
export async function loadDefinition(
  client: EnsembleClient,
  source: string,
  params: string[],
): Promise<FlowDefinitionInput> {
  const ext = extname(source).toLowerCase();
  if ([".yaml", ".yml", ".json"].includes(ext)) {
    if (params.length) throw new UsageError("--param is for templates; a flow file carries its own settings");
    let text: string;
    try {
      text = readFileSync(source, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      return (ext === ".json" ? JSON.parse(text) : parseYaml(text)) as FlowDefinitionInput;
    } catch (err) {
      throw new UsageError(`${source} is not valid ${ext === ".json" ? "JSON" : "YAML"}: ${(err as Error).message}`);
    }
  }
  const templates = await client.listTemplates();
  if (!templates.some((t) => t.name === source || t.alias === source))
    throw new UsageError(
      `"${source}" is neither a .yaml/.yml/.json file nor a template; templates: ${templates.map((t) => t.alias).join(", ")}`,
    );
  return client.buildTemplate(source, parseParams(params));
}

/** `key=value` pairs; a value that reads as JSON (numbers, booleans, lists) is taken as such. */
export function parseParams(params: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const param of params) {
    const at = param.indexOf("=");
    if (at <= 0) throw new UsageError(`--param ${param}: expected key=value`);
    const raw = param.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    out[param.slice(0, at)] = value;
  }
  return out;
}
