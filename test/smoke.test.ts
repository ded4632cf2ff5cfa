import { ModalClient } from "modal";
import { Probot } from "probot";

test("the toolchain loads Probot and the Modal SDK in ESM mode", () => {
  expect(typeof Probot).toBe("function");
  expect(typeof ModalClient).toBe("function");
});
