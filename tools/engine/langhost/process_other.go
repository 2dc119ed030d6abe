//go:build !linux

package main

import (
	"context"
	"os"
	"os/exec"
)

// Elsewhere than Linux the program stays in the language host's process group and is killed on
// cancellation; the engine's own process-group handling applies.

func ownProcessGroup(*exec.Cmd) {}

func dieWithParent(*exec.Cmd) {}

func runChild(cmd *exec.Cmd) error { return cmd.Run() }

func terminateGroup(proc *os.Process) error { return proc.Kill() }

func watchParent(context.Context, context.CancelFunc) {}
