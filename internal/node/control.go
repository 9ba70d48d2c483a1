package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// control is the node's maintenance and shutdown switch (behaviour.md §6). Its state lives in
// memory only: a restarted node accepts work.
type control struct {
	log      *slog.Logger
	base     context.Context
	stop     func()     // starts the graceful stop of the process
	onChange func()     // maintenance changed: vote again, tell the cluster
	busy     func() int // applications this node still serves
	changed  func() <-chan struct{}

	mu          sync.Mutex
	maintenance bool
	shutdown    bool
	delay       time.Duration
	cancel      context.CancelFunc
}

func (c *control) Maintenance() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maintenance
}

func (c *control) SetShutdownDelay(d time.Duration) {
	c.mu.Lock()
	c.delay = d
	c.mu.Unlock()
}

func (c *control) SetMaintenance(on bool) {
	c.mu.Lock()
	was := c.maintenance
	c.maintenance = on
	c.mu.Unlock()
	if on {
		c.log.Info("Fish: Enabled maintenance mode, no new workload accepted")
	} else {
		c.log.Info("Fish: Disabled maintenance mode, accepting new workloads")
	}
	if was != on {
		c.onChange()
	}
}

// SetShutdown starts or cancels a shutdown; setting the current value again does nothing.
// It never blocks.
func (c *control) SetShutdown(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on == c.shutdown {
		return
	}
	c.shutdown = on
	if !on {
		c.cancel()
		c.log.Info("Fish: Disabled shutdown mode")
		return
	}
	ctx, cancel := context.WithCancel(c.base)
	c.cancel = cancel
	c.log.Info(fmt.Sprintf("Fish: Enabled shutdown mode with maintenance: %v, delay: %v", c.maintenance, c.delay))
	go c.shutdownAfter(ctx, c.maintenance, c.delay)
}

// shutdownAfter waits for this node's applications to end (in maintenance), then the delay,
// then stops the process, unless cancelled first.
func (c *control) shutdownAfter(ctx context.Context, waitApps bool, delay time.Duration) {
	for waitApps && c.busy() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-c.changed():
		case <-time.After(2 * time.Second): // a missed change costs at most this
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	if ctx.Err() != nil {
		return
	}
	c.log.Info("Fish: Shutdown sends quit signal to Fish")
	c.stop()
}
