package workflows

// MaxCyclesPerRun exposes the per-run cycle cap to the external test package.
const MaxCyclesPerRun = maxCyclesPerRun
