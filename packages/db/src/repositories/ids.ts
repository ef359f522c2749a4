import { randomUUID } from "node:crypto";

/** Ids are random UUIDs: unguessable, so an id in a URL reveals nothing about others. */
export function newId(): string {
  return randomUUID();
}
