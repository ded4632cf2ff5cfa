// A failure's reason says what went wrong in words a person can act on.
import { Octokit } from "@octokit/core";
import { describeFailure } from "../../src/lib/errors.js";

test("a GitHub host that does not resolve is reported as unreachable, not as GitHub answering 500", async () => {
  const octokit = new Octokit({ baseUrl: "http://no-such-host.invalid/api/v3" });
  const error = await octokit.request("GET /app").catch((caught: unknown) => caught);
  expect(describeFailure(error)).toEqual({
    retryable: true,
    reason: expect.stringMatching(/^could not reach GitHub \(GET \/api\/v3\/app\): .*ENOTFOUND.*check GHE_HOST/),
  });
});
