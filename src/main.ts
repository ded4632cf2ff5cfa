// `npm start`: see start.ts. Exits with a readable message when a setting is wrong.
import { SettingsError } from "./settings/load-settings.js";
import { start } from "./start.js";

try {
  const server = await start();
  const stop = async () => {
    await ("shutdown" in server ? server.shutdown() : server.stop());
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exit(1);
}
