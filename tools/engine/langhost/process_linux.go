package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// ownProcessGroup starts cmd as the leader of a new process group, killed by the kernel if the
// language host dies.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// dieWithParent has the kernel kill cmd if the language host dies, even by SIGKILL.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// runChild runs cmd to completion. The kernel sends a child's Pdeathsig when the thread that
// started it exits, not the process: keep that thread for as long as the child runs.
func runChild(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Run()
}

// terminateGroup sends SIGTERM to the process group that proc leads.
func terminateGroup(proc *os.Process) error {
	if err := syscall.Kill(-proc.Pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	return nil
}

// watchParent calls gone once the process that started the language host (the engine) has
// exited, which the kernel shows by giving it another parent; it returns when ctx ends.
func watchParent(ctx context.Context, gone context.CancelFunc) {
	parent := os.Getppid()
	if parent == 1 {
		return // started by init itself (or orphaned already): nothing to tell
	}
	ticker := time.NewTicker(parentPollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if os.Getppid() != parent {
				gone()
				return
			}
		}
	}
}
