package docker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
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
	// CapacityConfig holds cpu_alter, ram_alter, cpu_overbook and ram_overbook; the alter
	// amounts apply to the engine's totals.
	driver.CapacityConfig
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

// limits turns the engine's totals into the driver's capacity limits, applying the alter and
// overbook amounts. A negative alter must leave at least one CPU and one GB.
func (c Config) limits(ncpu int, memBytes int64) (driver.Limits, error) {
	ramGB := uint32(min(memBytes>>30, int64(^uint32(0))))
	lim, err := c.Limits(uint32(max(ncpu, 0)), ramGB)
	var alterErr *driver.AlterError
	if errors.As(err, &alterErr) {
		what, unit := "CPU", ""
		if alterErr.Key == "ram_alter" {
			what, unit = "RAM", " GB"
		}
		return driver.Limits{}, fmt.Errorf("docker config: %s %d leaves no %s (engine has %d%s)",
			alterErr.Key, alterErr.Alter, what, alterErr.Total, unit)
	}
	return lim, err
}
