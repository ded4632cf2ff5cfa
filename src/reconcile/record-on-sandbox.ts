// Records what GitHub reports about a runner on its sandbox's tags (which job it
// took, when that job finished), so every replica can read it from Modal. Runner
// names are unique only within one org or repository, so a sandbox is touched only
// when its tags say it belongs to the event's installation and runner scope: an
// event about another org's runner that happens to bear one of our names changes
// nothing.
import type { Fleet } from "../modal/fleet.js";
import { belongsTo, type EventOrigin } from "../modal/sandbox-tags.js";

export type RecordResult = "recorded" | "absent" | "foreign";

/** Merges `tags` into the tags of the running sandbox `name` if it belongs to `origin`. */
export async function recordOnSandbox(fleet: Fleet, name: string, origin: EventOrigin, tags: Record<string, string>): Promise<RecordResult> {
  const sandbox = await fleet.findByName(name);
  if (!sandbox) return "absent";
  const current = await fleet.getTags(sandbox.sandboxId);
  if (!belongsTo(current, origin)) return "foreign";
  await fleet.setTags(sandbox.sandboxId, { ...current, ...tags });
  return "recorded";
}
