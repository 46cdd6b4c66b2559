package conv

// parallelAllocFree reports whether package parallel runs tasks without
// allocating (true once parallel.Do is used).
const parallelAllocFree = false
