//go:build !linux

package main

// Elsewhere than Linux the engine's own process-group handling applies.
func exitWhenEngineGone() {}
