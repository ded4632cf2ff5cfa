import { parseRunnerName, runnerName } from "../../src/model/runner-name.js";

describe("runner names", () => {
  test("are derived from the job and the attempt, and read back", () => {
    expect(runnerName("modal", 2832853555)).toBe("modal-2832853555-0");
    expect(runnerName("modal", 42, 3)).toBe("modal-42-3");
    expect(parseRunnerName("modal", "modal-42-3")).toEqual({ jobId: 42, attempt: 3 });
  });

  test.each(["runner-42-0", "modal-42", "modal-x-0", "modal-42-0-1", "modalx-42-0"])("%s is not one of ours", (name) => {
    expect(parseRunnerName("modal", name)).toBeUndefined();
  });
});
