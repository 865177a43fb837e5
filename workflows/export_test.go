package workflows

// MaxCyclesPerRun exposes the per-run cycle cap to the external test package.
const MaxCyclesPerRun = maxCyclesPerRun

// MaxPagesPerRun exposes the per-run page cap (continue-as-new between pages) to the external test package.
const MaxPagesPerRun = maxPagesPerRun
