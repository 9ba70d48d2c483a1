package config

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFile writes a config file into a temporary directory and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, args ...string) Config {
	t.Helper()
	c, err := Load(args, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("Load(%q): %v", args, err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	host, _ := os.Hostname()
	c := mustLoad(t)
	want := Config{
		Directory:    "fish_data",
		APIAddress:   "0.0.0.0:8001",
		ProxyAddress: "0.0.0.0:1080",
		NodeAddress:  "127.0.0.1:8001",
		TLSKey:       host + ".key",
		TLSCrt:       host + ".crt",
		TLSCACrt:     "ca.crt",
		NodeName:     host,
		LogLevel:     slog.LevelInfo,
		Timestamp:    true,
	}
	if !equal(c, want) {
		t.Errorf("Load() = %+v\nwant %+v", c, want)
	}
	if d := Defaults(); !equal(d, want) {
		t.Errorf("Defaults() = %+v\nwant %+v", d, want)
	}
}

func equal(a, b Config) bool {
	return reflect.DeepEqual(a, b)
}

const fullFile = `---
directory: /var/fish
api_address: 127.0.0.1:0
proxy_address: 127.0.0.1:1081
node_address: 10.0.0.5:8001
cluster_join: [10.0.0.1:8001, 10.0.0.2:8001]
tls_ca_crt: cluster.crt
node_location: test_loc
node_identifiers: ["OS:linux"]
default_resource_lifetime: 1h30m
drivers:
  - name: test
    cfg:
      cpu_limit: 4
      ram_limit: 8
  - name: docker
node_name: "node-1"
`

func TestFileOverridesDefaults(t *testing.T) {
	path := writeFile(t, fullFile)
	c := mustLoad(t, "-c", path)
	want := Config{
		ConfigFile:              path,
		Directory:               "/var/fish",
		APIAddress:              "127.0.0.1:0",
		ProxyAddress:            "127.0.0.1:1081",
		NodeAddress:             "10.0.0.5:8001",
		NodeAddressSet:          true,
		ClusterJoin:             []string{"10.0.0.1:8001", "10.0.0.2:8001"},
		TLSKey:                  "node-1.key",
		TLSCrt:                  "node-1.crt",
		TLSCACrt:                "cluster.crt",
		NodeName:                "node-1",
		NodeLocation:            "test_loc",
		NodeIdentifiers:         []string{"OS:linux"},
		DefaultResourceLifetime: 90 * time.Minute,
		Drivers: []DriverConfig{
			{Name: "test", Cfg: []byte(`{"cpu_limit":4,"ram_limit":8}`)},
			{Name: "docker"},
		},
		LogLevel:  slog.LevelInfo,
		Timestamp: true,
	}
	if !equal(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestExplicitTLSNamesKept(t *testing.T) {
	c := mustLoad(t, "-c", writeFile(t, "tls_key: k.pem\ntls_crt: /etc/c.pem\nnode_name: \"n\"\n"))
	if c.TLSKey != "k.pem" || c.TLSCrt != "/etc/c.pem" {
		t.Errorf("TLSKey=%q TLSCrt=%q", c.TLSKey, c.TLSCrt)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	path := writeFile(t, fullFile)
	c := mustLoad(t, "--cfg", path, "-a", "127.0.0.1:9000", "--proxy=:1090", "-n", "10.9.9.9:8001",
		"-D", "other", "-v", "debug", "--join", "a:1,b:2", "-j", "c:3")
	if c.APIAddress != "127.0.0.1:9000" || c.ProxyAddress != ":1090" || c.NodeAddress != "10.9.9.9:8001" ||
		c.Directory != "other" || c.LogLevel != slog.LevelDebug {
		t.Errorf("flags not applied: %+v", c)
	}
	if !slices.Equal(c.ClusterJoin, []string{"a:1", "b:2", "c:3"}) {
		t.Errorf("ClusterJoin = %q", c.ClusterJoin)
	}
	// Empty flag values do not override.
	c = mustLoad(t, "--cfg", path, "--api=", "--join=")
	if c.APIAddress != "127.0.0.1:0" || len(c.ClusterJoin) != 2 {
		t.Errorf("empty flags overrode the file: %+v", c)
	}
}

func TestVerbosity(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		if c := mustLoad(t, "-v", in); c.LogLevel != want {
			t.Errorf("-v %s: level %v, want %v", in, c.LogLevel, want)
		}
	}
	for _, bad := range []string{"trace", "DEBUG", "warning", ""} {
		_, err := Load([]string{"--verbosity", bad}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--verbosity") {
			t.Errorf("-v %q: err = %v", bad, err)
		}
	}
}

func TestTimestampQuirk(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--timestamp"}, false},
		{[]string{"--timestamp=true"}, true},
		{[]string{"--timestamp=false"}, false},
		{[]string{"--timestamp", "-v", "debug"}, false},
	}
	for _, tt := range tests {
		if c := mustLoad(t, tt.args...); c.Timestamp != tt.want {
			t.Errorf("%q: Timestamp = %v, want %v", tt.args, c.Timestamp, tt.want)
		}
	}
}

func TestDriversFlag(t *testing.T) {
	path := writeFile(t, fullFile)
	c := mustLoad(t, "-c", path, "--drivers", "native,test")
	want := []DriverConfig{{Name: "native"}, {Name: "test", Cfg: []byte(`{"cpu_limit":4,"ram_limit":8}`)}}
	if !reflect.DeepEqual(c.Drivers, want) {
		t.Errorf("Drivers = %s", c.Drivers)
	}
	if _, err := Load([]string{"--drivers", "test,test"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `"test" is listed twice`) {
		t.Errorf("duplicate --drivers: err = %v", err)
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"unknown key", "node_name: n\napi_adress: 1.2.3.4:1\n", `unknown key "api_adress"`},
		{"unknown driver key", "drivers:\n  - name: test\n    config: {}\n", `unknown key "config"`},
		{"bad duration", "default_resource_lifetime: 10 minutes\n", "default_resource_lifetime"},
		{"wrong type", "cluster_join: 10.0.0.1:8001\n", `"cluster_join": expected a list`},
		{"bad yaml", "node_name: [\n", "yaml"},
		{"json then yaml", "{\"node_location\": \"x\"}\nnode_name: j1\n", "yaml"},
		{"boolean for string", "node_name: true\n", `key "node_name": expected string, got bool (quote the value)`},
		{"number for string", "node_location: 42\n", `key "node_location": expected string, got number`},
		{"mapping for list", "drivers: {name: test}\n", `key "drivers": expected a list, got object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content)
			_, err := Load([]string{"-c", path}, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "Fish: Unable to apply config file: "+path+" ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to name %q", err, tt.want)
			}
		})
	}
	_, err := Load([]string{"-c", filepath.Join(t.TempDir(), "missing.yml")}, io.Discard, io.Discard)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

// TestFileYAML: a key written twice takes its last value (harnesses append node_name), the YAML
// is 1.2 (n is a word), and a negative default lifetime means no expiry.
func TestFileYAML(t *testing.T) {
	path := writeFile(t, "node_name: first\nnode_location: n\ndefault_resource_lifetime: -1s\nnode_name: \"second\"\n")
	c := mustLoad(t, "-c", path)
	if c.NodeName != "second" || c.NodeLocation != "n" || c.DefaultResourceLifetime != -time.Second {
		t.Errorf("node_name %q, node_location %q, default lifetime %v; want second, n, -1s", c.NodeName, c.NodeLocation, c.DefaultResourceLifetime)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		args []string
		file string
		want string
	}{
		{"api without port", []string{"-a", "localhost"}, "", "api_address"},
		{"node address with slash", []string{"-n", "a/b:1"}, "", "node_address"},
		{"join without port", []string{"-j", "host"}, "", "cluster_join"},
		{"duplicate drivers in file", nil, "drivers: [{name: test}, {name: test}]\n", "listed twice"},
		{"driver without name", nil, "drivers: [{cfg: {}}]\n", "empty name"},
		{"unknown flag", []string{"--nope"}, "", "nope"},
		{"stray argument", []string{"extra"}, "", `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append(args, "-c", writeFile(t, tt.file))
			}
			_, err := Load(args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	var out bytes.Buffer
	if _, err := Load([]string{"-h"}, &out, io.Discard); !errors.Is(err, ErrHelp) {
		t.Fatalf("-h: err = %v", err)
	}
	for _, f := range []string{"--api", "-a,", "--proxy", "--node", "--join", "--cfg", "--dir", "-D,",
		"--verbosity", "--timestamp", "--drivers", "--help", "--version"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("usage does not list %s:\n%s", f, out.String())
		}
	}
	out.Reset()
	if _, err := Load([]string{"--version"}, &out, io.Discard); !errors.Is(err, ErrVersion) {
		t.Errorf("--version: err = %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("--version wrote %q", out.String())
	}
}
