// One look-up shared by concurrent callers; a failed one is tried again.
import { PromiseMemo } from "../../src/lib/promise-memo.js";

test("concurrent callers share one look-up; a failure is forgotten, a success kept", async () => {
  const memo = new PromiseMemo<string, number>();
  let calls = 0;
  const failing = () => {
    calls++;
    return Promise.reject(new Error("not yet"));
  };
  await expect(Promise.all([memo.get("a", failing), memo.get("a", failing)])).rejects.toThrow("not yet");
  expect(calls).toBe(1);
  const succeeding = () => {
    calls++;
    return Promise.resolve(7);
  };
  expect(await memo.get("a", succeeding)).toBe(7);
  expect(await memo.get("a", succeeding)).toBe(7);
  expect(calls).toBe(2);
});

test("it holds at most its limit of keys", async () => {
  const memo = new PromiseMemo<number, number>(3);
  let calls = 0;
  for (let key = 0; key < 10; key++) await memo.get(key, async () => (calls++, key));
  await memo.get(0, async () => (calls++, 0)); // forgotten: looked up again
  expect(calls).toBe(11);
});
