package main

import (
	"os"
	"time"
)

// How often the plugin checks that the engine that started it still runs.
const enginePollInterval = 250 * time.Millisecond

// exitWhenEngineGone ends the plugin once the process that started it (the engine) has exited,
// which the kernel shows by giving the plugin another parent. The engine stops its plugins when
// it ends normally; a killed pulumi cannot, and the plugin used to stay running (parent 1). With
// the engine gone nobody can receive its answers or record what it did, so it exits at once.
func exitWhenEngineGone() {
	parent := os.Getppid()
	if parent == 1 {
		return // started by init itself (or orphaned already): nothing to tell
	}
	go func() {
		for range time.Tick(enginePollInterval) {
			if os.Getppid() != parent {
				os.Exit(1)
			}
		}
	}()
}
