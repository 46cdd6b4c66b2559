// Package fuzzcompile holds the structured fuzz target that compiles fuzzed
// graphs with runtime.Compile and runs them (FuzzCompile, in its test). It is
// a package of its own so that the executors' code does not slow down the
// fuzzing of package graph.
package fuzzcompile
