package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// DefaultWorkspace is the marker directory used when workspace_path is not set, relative to the
// node's working directory.
const DefaultWorkspace = "fish_test_workspace"

// Config is the node-level configuration of a test driver instance (drivers.md §2.1). Unknown
// keys are ignored; a value of the wrong type (or out of range, like a knob of 256) is an error.
type Config struct {
	IsRemote      bool   `json:"is_remote"`      // pretend to be remote: usage not accounted
	WorkspacePath string `json:"workspace_path"` // marker directory; absolute after prepare
	CPULimit      uint32 `json:"cpu_limit"`      // total vCPUs; both limits 0 = unlimited
	RAMLimit      uint32 `json:"ram_limit"`      // total RAM GB
	CPUOverbook   uint32 `json:"cpu_overbook"`   // extra vCPUs when tenants allow overbook
	RAMOverbook   uint32 `json:"ram_overbook"`   // extra RAM GB when tenants allow overbook

	FailConfigApply    uint8 `json:"fail_config_apply"`
	FailConfigValidate uint8 `json:"fail_config_validate"`
	FailStatus         uint8 `json:"fail_status"`
	FailSnapshot       uint8 `json:"fail_snapshot"`
	FailDeallocate     uint8 `json:"fail_deallocate"`
}

// decodeConfig decodes raw; empty or null means all defaults.
func decodeConfig(raw json.RawMessage) (Config, error) {
	var cfg Config
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return cfg, nil
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return Config{}, fmt.Errorf("decode config: %w", err)
	}
	return cfg, nil
}

// prepare applies the defaults, makes the workspace path absolute (relative paths resolve
// against workDir, or the process directory when workDir is empty) and creates it.
func (c *Config) prepare(workDir string) error {
	if c.WorkspacePath == "" {
		c.WorkspacePath = DefaultWorkspace
	}
	if !filepath.IsAbs(c.WorkspacePath) {
		c.WorkspacePath = filepath.Join(workDir, c.WorkspacePath)
	}
	abs, err := filepath.Abs(c.WorkspacePath)
	if err != nil {
		return fmt.Errorf("workspace path %q: %w", c.WorkspacePath, err)
	}
	c.WorkspacePath = abs
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	return nil
}

// unlimited reports whether no capacity limit is configured.
func (c *Config) unlimited() bool { return c.CPULimit == 0 && c.RAMLimit == 0 }
