package conv

// parallelAllocFree reports whether package parallel runs tasks without
// allocating.
const parallelAllocFree = true
