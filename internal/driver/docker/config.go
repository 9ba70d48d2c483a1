package docker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
)

// Config is the driver's node-level configuration (drivers[].cfg).
type Config struct {
	// DockerPath is accepted for compatibility with the reference node's CLI-based driver and
	// ignored: the driver talks to the engine API.
	DockerPath string `json:"docker_path"`
	// IsRemote makes the driver account usage from the engine instead of the node.
	IsRemote bool `json:"is_remote"`
	// ImagesPath is the image cache directory, relative to the node's working directory.
	ImagesPath string `json:"images_path"`
	// WorkspacePath is accepted and ignored: disks are docker volumes.
	WorkspacePath string `json:"workspace_path"`
	// CPUAlter and RAMAlter (GB) are added to the engine's totals (negative keeps some for the host).
	CPUAlter int `json:"cpu_alter"`
	RAMAlter int `json:"ram_alter"`
	// CPUOverbook and RAMOverbook (GB) are extra amounts overbook-tolerant tenants may use.
	CPUOverbook uint32 `json:"cpu_overbook"`
	RAMOverbook uint32 `json:"ram_overbook"`
	// DownloadUser and DownloadPassword are the Basic auth credentials for image downloads.
	DownloadUser     string `json:"download_user"`
	DownloadPassword string `json:"download_password"`
	// HostFirewall makes the driver filter, with iptables, what resources reach on the host: only
	// the node's meta API and proxy ports (default true).
	HostFirewall bool `json:"host_firewall"`
	// IPTablesPath is the iptables binary of the host firewall (default "iptables" from PATH).
	IPTablesPath string `json:"iptables_path"`
}

// DefaultImagesPath is where images are cached when images_path is not set.
const DefaultImagesPath = "fish_docker_images"

// DefaultIPTablesPath is the iptables binary looked up in PATH when iptables_path is not set.
const DefaultIPTablesPath = "iptables"

// parseConfig decodes raw strictly (an unknown key is an error naming it), applies the defaults
// and makes the images path absolute against workDir.
func parseConfig(raw json.RawMessage, workDir string) (Config, error) {
	cfg := Config{HostFirewall: true}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) != 0 && !bytes.Equal(trimmed, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return Config{}, fmt.Errorf("docker config: %w", err)
		}
		if dec.More() {
			return Config{}, errors.New("docker config: trailing data after the object")
		}
	}
	if cfg.IPTablesPath == "" {
		cfg.IPTablesPath = DefaultIPTablesPath
	}
	if cfg.ImagesPath == "" {
		cfg.ImagesPath = DefaultImagesPath
	}
	if !filepath.IsAbs(cfg.ImagesPath) {
		cfg.ImagesPath = filepath.Join(workDir, cfg.ImagesPath)
	}
	abs, err := filepath.Abs(cfg.ImagesPath)
	if err != nil {
		return Config{}, fmt.Errorf("docker config: images_path: %w", err)
	}
	cfg.ImagesPath = abs
	return cfg, nil
}

// limits turns the engine's totals into the driver's capacity limits, applying the alter
// amounts. A negative alter must leave at least one CPU and one GB.
func (c Config) limits(ncpu int, memBytes int64) (cpu, ram uint32, err error) {
	ramGB := int(memBytes >> 30)
	totalCPU, totalRAM := ncpu+c.CPUAlter, ramGB+c.RAMAlter
	if totalCPU < 1 {
		return 0, 0, fmt.Errorf("docker config: cpu_alter %d leaves no CPU (engine has %d)", c.CPUAlter, ncpu)
	}
	if totalRAM < 1 {
		return 0, 0, fmt.Errorf("docker config: ram_alter %d leaves no RAM (engine has %d GB)", c.RAMAlter, ramGB)
	}
	return uint32(totalCPU), uint32(totalRAM), nil
}
