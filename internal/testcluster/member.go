package testcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/aquarium-fish/aquarium-fish/internal/config"
	"github.com/aquarium-fish/aquarium-fish/internal/node"
)

// Node is one member of a test cluster.
type Node struct {
	c         *Cluster
	Index     int
	Name      string
	Dir       string // data directory
	Workspace string // test driver workspace
	out       *Output
	join      []string

	mu   sync.Mutex
	n    *node.Node
	uid  string
	addr string
}

// Output is what the node logged, across its restarts.
func (nd *Node) Output() *Output { return nd.out }

// Running reports whether the node runs now.
func (nd *Node) Running() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.n != nil
}

// UID is the node's UID (known after its first start).
func (nd *Node) UID() string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.uid
}

// Addr is the address the node's API listens on (its latest one when stopped).
func (nd *Node) Addr() string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.addr
}

// IsLeader reports whether the node runs and leads the cluster now.
func (nd *Node) IsLeader() bool {
	nd.mu.Lock()
	n := nd.n
	nd.mu.Unlock()
	return n != nil && n.IsLeader()
}

// DBPath is the node's state database file.
func (nd *Node) DBPath() string {
	return filepath.Join(nd.Dir, config.DefaultNodeAddress, "sqlite.db")
}

func (nd *Node) config() (config.Config, error) {
	drv := map[string]any{"workspace_path": nd.Workspace}
	for k, v := range nd.c.opts.DriverCfg {
		drv[k] = v
	}
	raw, err := json.Marshal(drv)
	if err != nil {
		return config.Config{}, err
	}
	cfg := config.Defaults()
	cfg.Directory = nd.Dir
	cfg.APIAddress = "127.0.0.1:0"
	cfg.ProxyAddress = "127.0.0.1:0"
	cfg.NodeAddressSet = false
	cfg.NodeName = nd.Name
	cfg.TLSKey, cfg.TLSCrt = nd.Name+".key", nd.Name+".crt"
	cfg.NodeLocation = "test_loc"
	cfg.ClusterJoin = nd.join
	cfg.Drivers = []config.DriverConfig{{Name: "test", Cfg: raw}}
	cfg.Timestamp = true
	cfg.LogLevel = slog.LevelInfo
	if nd.c.opts.Debug {
		cfg.LogLevel = slog.LevelDebug
	}
	return cfg, nil
}

// copyCA gives the node the cluster's CA certificate and key, as an operator would.
func (nd *Node) copyCA(seedDir string) error {
	if err := os.MkdirAll(nd.Dir, 0o750); err != nil {
		return err
	}
	for _, f := range []string{config.DefaultTLSCACrt, "ca.key"} {
		b, err := os.ReadFile(filepath.Join(seedDir, f))
		if err != nil {
			return fmt.Errorf("copy the cluster CA: %w", err)
		}
		if err := os.WriteFile(filepath.Join(nd.Dir, f), b, 0o600); err != nil {
			return fmt.Errorf("copy the cluster CA: %w", err)
		}
	}
	return nil
}

func (nd *Node) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), nd.c.opts.StartTimeout)
	defer cancel()
	return nd.startCtx(ctx)
}

// startCtx starts the node; ctx bounds the start only.
func (nd *Node) startCtx(ctx context.Context) error {
	cfg, err := nd.config()
	if err != nil {
		return err
	}
	if nd.UID() != "" {
		nd.c.Faults.Reconnect(nd.UID())
	}
	nd.out.Mark(fmt.Sprintf("==== start %s", nd.Name))
	n, err := node.StartWith(ctx, cfg, node.Build{Version: "test", Time: "now"},
		node.Options{Faults: nd.c.Faults, Timing: nd.c.opts.Timing}, nd.out, nd.out)
	if err != nil {
		return err
	}
	nd.mu.Lock()
	nd.n, nd.uid, nd.addr = n, n.UID(), n.Addr()
	nd.mu.Unlock()
	return nil
}

func (nd *Node) take() *node.Node {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	n := nd.n
	nd.n = nil
	return n
}

func (nd *Node) stop() {
	n := nd.take()
	if n == nil {
		return
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_ = n.Wait(done)
	nd.out.Mark("==== stopped")
}

// kill crashes the node. A crashed process does nothing after the crash, but an in-process
// node's goroutines run until Kill has stopped them: its links are cut first, and its driver's
// workspace is moved away meanwhile, so nothing they do reaches the cluster or the resources.
func (nd *Node) kill() {
	n := nd.take()
	if n == nil {
		return
	}
	nd.c.Faults.Isolate(nd.UID())
	frozen := nd.Workspace + ".crashed"
	moved := os.Rename(nd.Workspace, frozen) == nil
	n.Kill()
	if moved {
		if err := os.Rename(frozen, nd.Workspace); err != nil {
			nd.c.tb.Errorf("restore the workspace of %s: %v", nd.Name, err)
		}
	}
	nd.out.Mark("==== killed")
}
