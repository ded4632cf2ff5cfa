// Modal-side checks of the doctor: the token and environment (by looking up the
// app without creating it), each profile's image build and its named secrets.
import { ClientError, Status } from "nice-grpc";
import { NotFoundError, type App, type ModalClient } from "modal";
import type { RunnerProfile } from "../model/runner-profile.js";
import { describeFailure } from "../lib/errors.js";
import type { Settings } from "../settings/load-settings.js";
import { fail, ok, warn, type CheckResult } from "./check-result.js";

const TOKEN_FIX = "set MODAL_TOKEN_ID/MODAL_TOKEN_SECRET to a token from https://modal.com/settings/tokens (`modal token new`)";

function modalFailure(check: string, error: unknown, settings: Settings): CheckResult {
  const code = error instanceof ClientError ? error.code : undefined;
  if (code === Status.UNAUTHENTICATED || code === Status.PERMISSION_DENIED)
    return fail(check, `Modal refused the token: ${describeFailure(error).reason}`, TOKEN_FIX);
  if (code === Status.NOT_FOUND && settings.modal.environment)
    return fail(
      check,
      `${describeFailure(error).reason}`,
      `create Modal environment "${settings.modal.environment}" or fix MODAL_ENVIRONMENT`,
    );
  return fail(
    check,
    `cannot reach Modal: ${describeFailure(error).reason}`,
    "check MODAL_SERVER_URL (unset for Modal itself) and the network path to api.modal.com",
  );
}

/** The app the sandboxes live in; undefined when it does not exist (yet) or Modal failed. */
export async function checkModalApp(modal: ModalClient, settings: Settings): Promise<{ result: CheckResult; app?: App }> {
  const { appName, environment } = settings.modal;
  const env = environment ?? "the workspace's default environment";
  try {
    const app = await modal.apps.fromName(appName, { environment, createIfMissing: false });
    return { result: ok("Modal", `token accepted; app "${appName}" in ${env}`), app };
  } catch (error) {
    if (error instanceof NotFoundError || (error instanceof ClientError && error.code === Status.NOT_FOUND && /app/i.test(error.details))) {
      return {
        result: warn(
          "Modal",
          `token accepted; app "${appName}" does not exist in ${env} yet`,
          "none: the App creates it at start-up (or set MODAL_APP_NAME to an existing app)",
        ),
      };
    }
    return { result: modalFailure("Modal", error, settings) };
  }
}

export async function checkProfile(
  modal: ModalClient,
  app: App | undefined,
  profile: RunnerProfile,
  settings: Settings,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const imageCheck = `profile ${profile.name}: image`;
  if (!app)
    results.push(
      warn(
        imageCheck,
        `${profile.image.baseImage} not built: no Modal app yet`,
        "run the App once (it creates the app), then run doctor again",
      ),
    );
  else {
    try {
      const image = await modal.images.fromRegistry(profile.image.baseImage).dockerfileCommands(profile.image.commands).build(app);
      results.push(ok(imageCheck, `${profile.image.baseImage} built (${image.imageId})`));
    } catch (error) {
      results.push(
        fail(
          imageCheck,
          `${profile.image.baseImage} does not build: ${describeFailure(error).reason}`,
          "fix the profile's Dockerfile (RUNNER_DOCKERFILE or the runner config's image)",
        ),
      );
    }
  }
  for (const name of profile.secrets) {
    const check = `profile ${profile.name}: secret ${name}`;
    try {
      await modal.secrets.fromName(name, { environment: settings.modal.environment });
      results.push(ok(check, "found"));
    } catch (error) {
      if (error instanceof NotFoundError)
        results.push(
          fail(
            check,
            `no Modal secret "${name}"`,
            `create it: modal secret create ${name} KEY=value${settings.modal.environment ? ` --env ${settings.modal.environment}` : ""}`,
          ),
        );
      else results.push(modalFailure(check, error, settings));
    }
  }
  return results;
}
