// Package dockertest holds what the docker driver's tests and the end-to-end tests share to
// run against a real Docker engine: a client of the local engine (or a skipped test), the
// busybox test image, and running a command in a container. It is imported by tests only.
package dockertest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// execPoll is the wait between two checks whether an exec has ended.
const execPoll = 20 * time.Millisecond

// Engine returns a client of the engine configured by the environment (DOCKER_HOST…, like a
// node's), closed when the test ends, or skips the test when no engine answers.
func Engine(tb testing.TB) *client.Client {
	tb.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		tb.Skipf("skipped: no docker engine client (%v); the docker driver tests need a Docker engine", err)
	}
	tb.Cleanup(func() { _ = cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		tb.Skipf("skipped: no docker engine reachable (%v); the docker driver tests need a Docker engine", err)
	}
	return cli
}

// Exec runs cmd in container id and returns its exit code and combined output. The test
// fails when the command cannot be run or has not ended 30 seconds after it started.
func Exec(tb testing.TB, cli *client.Client, id string, cmd ...string) (int, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ex, err := cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		tb.Fatalf("exec %v: create: %v", cmd, err)
	}
	hj, err := cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		tb.Fatalf("exec %v: attach: %v", cmd, err)
	}
	defer hj.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, hj.Reader); err != nil {
		tb.Fatalf("exec %v: read: %v", cmd, err)
	}
	// The output ends when the command closes it; the engine may report the exit a little later.
	tick := time.NewTicker(execPoll)
	defer tick.Stop()
	for {
		ins, err := cli.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			tb.Fatalf("exec %v: inspect: %v", cmd, err)
		}
		if !ins.Running {
			return ins.ExitCode, out.String()
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("exec %v: still running after its output ended: %v", cmd, ctx.Err())
		case <-tick.C:
		}
	}
}
