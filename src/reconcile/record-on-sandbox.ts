// Records what GitHub reports about a runner on its sandbox's tags (which job it
// took, when that job finished), so every replica can read it from Modal.
import type { Fleet } from "../modal/fleet.js";

/** Merges `tags` into the tags of the running sandbox `name`; false when none runs. */
export async function recordOnSandbox(fleet: Fleet, name: string, tags: Record<string, string>): Promise<boolean> {
  const sandbox = await fleet.findByName(name);
  if (!sandbox) return false;
  const current = await fleet.getTags(sandbox.sandboxId);
  await fleet.setTags(sandbox.sandboxId, { ...current, ...tags });
  return true;
}
