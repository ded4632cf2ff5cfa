// Writes what workflow_job events say about our runners (which job a runner took,
// when it finished) onto their sandboxes' tags, after the webhook has been
// answered, a few at a time. A failed write is logged and left: the reconciler
// works from GitHub's runner list too.
import PQueue from "p-queue";
import type { Logger } from "pino";
import { describeFailure } from "../errors.js";
import type { Fleet } from "../modal/fleet.js";
import type { AssignmentTags, EventOrigin, FinishedTags } from "../modal/sandbox-tags.js";
import { recordOnSandbox } from "./record-on-sandbox.js";

export class SandboxNotes {
  readonly #queue = new PQueue({ concurrency: 4 });

  constructor(
    private readonly fleet: Fleet,
    private readonly log: Logger,
  ) {}

  record(runner: string, origin: EventOrigin, tags: AssignmentTags | FinishedTags, fields: Record<string, unknown>): void {
    void this.#queue.add(async () => {
      try {
        const result = await recordOnSandbox(this.fleet, runner, origin, { ...tags });
        if (result === "foreign") this.log.warn({ ...fields, runner, reason: "the sandbox belongs to another installation or scope" }, "event about a runner that is not this installation's; ignored");
        else this.log.debug({ ...fields, runner, tags, result }, "recorded on the runner's sandbox");
      } catch (error) {
        this.log.warn({ ...fields, runner, reason: describeFailure(error).reason }, "could not record on the runner's sandbox; the reconciler does without");
      }
    });
  }

  idle(): Promise<void> {
    return this.#queue.onIdle();
  }

  clear(): void {
    this.#queue.clear();
  }
}
