/**
 * `npm run test:faults` arguments: `--trials N` (or `--trials=N`) becomes FAULT_TRIALS; anything else
 * goes to vitest as it is (`-t crashed` picks the faults whose name contains "crashed").
 */
export function readFaultArgs(args) {
  const vitestArgs = [];
  let trials;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg !== "--trials" && !arg.startsWith("--trials=")) {
      vitestArgs.push(arg);
      continue;
    }
    const value = arg === "--trials" ? args[++i] : arg.slice("--trials=".length);
    if (!/^[1-9][0-9]{0,3}$/.test(value ?? "")) {
      throw new Error(`--trials takes a whole number from 1 to 9999, not ${value ?? "nothing"}`);
    }
    trials = value;
  }
  return { trials, vitestArgs };
}
