package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCommandLine: flags that answer without starting a node, and a bad flag value.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	code, out := runFish(t, dir, "--help")
	if code != 0 {
		t.Errorf("--help exit code %d, want 0", code)
	}
	for _, flag := range []string{"--api", "--proxy", "--node", "--join", "--cfg", "--dir", "--verbosity", "--timestamp", "--help", "-a", "-c", "-v"} {
		if !strings.Contains(out, flag) {
			t.Errorf("--help output does not list %s:\n%s", flag, out)
		}
	}

	code, out = runFish(t, dir, "--version")
	if code != 0 || !strings.HasPrefix(out, "aquarium-fish ") {
		t.Errorf("--version: exit %d output %q, want 0 and the version", code, out)
	}

	code, out = runFish(t, dir, "-v", "bogus")
	if code != 1 {
		t.Errorf("-v bogus: exit code %d, want 1: %s", code, out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("flags that start no node created files: %v", entries)
	}
}

// TestBadConfig: a config the node cannot use stops the start with exit code 1 and says why.
func TestBadConfig(t *testing.T) {
	t.Parallel()
	base := nodeOpts{}.configYAML()
	cases := []struct {
		name, config, mention string
	}{
		{"unknown key", base + "bogus_key: 1\n", "bogus_key"},
		{"invalid YAML", base + "drivers: [\n", ""},
		{"bad default lifetime", base + "default_resource_lifetime: soon\n", "default_resource_lifetime"},
		{"two documents", "node_location: x\n" + base, "one is expected"},
		{"unknown driver", strings.Replace(base, "- name: test", "- name: nosuchdriver", 1), "nosuchdriver"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(c.config), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out := runFish(t, dir, "-v", "debug", "-c", filepath.Join(dir, "config.yml"))
			if code != 1 {
				t.Errorf("exit code %d, want 1:\n%s", code, out)
			}
			if !strings.Contains(out, c.mention) {
				t.Errorf("output does not name %q:\n%s", c.mention, out)
			}
			if strings.Contains(out, "Fish initialized") {
				t.Errorf("a failed start printed \"Fish initialized\"")
			}
		})
	}
}

// TestFlagsOverrideConfig: command-line flags win over the config file (cli-config.md §1).
func TestFlagsOverrideConfig(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{
		extra: []string{"directory: from_config", "node_address: 127.0.0.1:7000"},
		args:  []string{"--dir", "from_flag", "-n", "127.0.0.1:9999", "--timestamp"},
	})
	if _, err := os.Stat(filepath.Join(n.dir, "from_flag", "127.0.0.1:9999", "sqlite.db")); err != nil {
		t.Errorf("database not in the flag's directory and node address: %v", err)
	}
	for _, p := range []string{"from_config", "fish_data"} {
		if _, err := os.Stat(filepath.Join(n.dir, p)); err == nil {
			t.Errorf("directory %s created although --dir was given", p)
		}
	}
	var this nodeInfo
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/node/this/", nil, &this)
	if this.Address != "127.0.0.1:9999" {
		t.Errorf("node address %q, want the --node value 127.0.0.1:9999", this.Address)
	}
	// The bare --timestamp means false: no date and time in front of the level (the debug
	// file:line may stay: cli-config.md §4 is ambiguous about it).
	line, ok := n.current().out.find(func(l string) bool { return strings.Contains(l, "Fish init TLS...") })
	if !ok || !regexp.MustCompile(`^(\S+:\d+: )?(DEBUG|INFO|WARN|ERROR):\t`).MatchString(line) {
		t.Errorf("with the bare --timestamp the line is %q, want it to start with the level", line)
	}
}

// runFish runs the binary with args in dir until it exits (at most 30 s) and returns its exit
// code and merged output. For start-up failures and flags that do not start a node.
func runFish(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, fishPath, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("run %v: still running after 30s\n%s", args, out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestChangedKeyStopsTheStart: a node whose key was replaced does not start on the data of the
// old one (behaviour.md §7): exit code 1 naming the reason, instead of waiting forever to be let
// into its own cluster.
func TestChangedKeyStopsTheStart(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	n.stop(t)
	name := n.opts.nodeName()
	for _, f := range []string{name + ".crt", name + ".key"} {
		if err := os.Remove(filepath.Join(n.dir, "fish_data", f)); err != nil {
			t.Fatal(err)
		}
	}
	code, out := runFish(t, n.dir, "-c", filepath.Join(n.dir, "config.yml"))
	if code != 1 {
		t.Errorf("exit code %d, want 1:\n%s", code, out)
	}
	if !strings.Contains(out, "Fish Node: The pubkey was changed for Node, that's not supported") {
		t.Errorf("output does not say the pubkey changed:\n%s", out)
	}
	if strings.Contains(out, "Fish initialized") {
		t.Errorf("a failed start printed \"Fish initialized\"")
	}
}
