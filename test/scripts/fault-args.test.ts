import { describe, expect, it } from "vitest";
import { readFaultArgs } from "../../scripts/lib/fault-args.mjs";
import { runScript } from "./support/run-script";

describe("npm run test:faults' arguments", () => {
  it("takes --trials N or --trials=N as the trial count and hands the rest to vitest", () => {
    expect(readFaultArgs(["--trials", "10"])).toEqual({ trials: "10", vitestArgs: [] });
    expect(readFaultArgs(["-t", "crashed", "--trials=3", "--bail=1"])).toEqual({
      trials: "3",
      vitestArgs: ["-t", "crashed", "--bail=1"],
    });
    expect(readFaultArgs([])).toEqual({ trials: undefined, vitestArgs: [] });
  });

  it.each([["--trials"], ["--trials", "0"], ["--trials", "-1"], ["--trials=ten"], ["--trials", "2.5"]])(
    "refuses %s %s",
    (...args) => {
      expect(() => readFaultArgs(args)).toThrow(/^--trials takes a whole number from 1 to 9999, not /);
    },
  );

  it("stops with exit code 2 and the reason before running anything", async () => {
    const { code, output } = await runScript("test-faults.mjs", ["--trials", "x"]);
    expect(code, output).toBe(2);
    expect(output).toBe("--trials takes a whole number from 1 to 9999, not x\n");
  });
});
