// The default scenario: the story the project's source texts tell (../shared/seeds/000...).
// A 4 GiB host, two VMs configured with 4 GiB each. VM1 boots (1 GiB), grows to 3 GiB, then most
// of its applications exit: the guest frees 2 GiB but the host still backs it. VM2 boots and
// grows. Free memory falls below 6%: the host balloons VM1, which gives its free pages. VM2 keeps
// growing faster than ballooning reclaims: free memory passes 4% and the host compresses and
// swaps; below 2% allocations block. With tax 0 both VMs end near 2 GiB each; with the default
// tax the split follows their active memory.
import type { ScenarioInput } from "./scenario.ts";

export const SEEDS_STORY: ScenarioInput = {
  name: "seeds-story",
  description: "Host 4 GiB, two VMs of 4 GiB: VM1 boots, grows to 3 GiB, frees 2 GiB; VM2 boots and grows.",
  seed: 1,
  durationSec: 900,
  host: { memoryMiB: 4096, profile: "esx4", idleTax: 0.75 },
  vms: [
    { name: "VM1", memoryMiB: 4096 },
    { name: "VM2", memoryMiB: 4096 },
  ],
  timeline: [
    { atSec: 0, vm: "VM1", action: "boot", MiB: 1024 },
    { atSec: 10, vm: "VM1", action: "grow", toMiB: 3072, rateMiBPerSec: 32 },
    { atSec: 120, vm: "VM1", action: "free", MiB: 2048 },
    { atSec: 120, vm: "VM1", action: "active", workingSetMiB: 1024 },
    { atSec: 180, vm: "VM2", action: "boot", MiB: 1024, rateMiBPerSec: 64 },
    { atSec: 190, vm: "VM2", action: "grow", toMiB: 3072, rateMiBPerSec: 24 },
  ],
  metrics: { intervalSec: 10 },
};
