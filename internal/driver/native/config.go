package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
)

// The defaults of the directories, relative to the node's working directory.
const (
	DefaultImagesPath    = "fish_native_images"
	DefaultWorkspacePath = "fish_native_workspace"
)

// Config is the node-level configuration of a native driver instance (drivers.md §4.1). Every
// key of the spec is accepted on every OS; a tool path is checked only where the OS uses the
// tool. Unknown keys are an error that names the key.
type Config struct {
	// Tool paths (empty = looked up in PATH). Linux uses useradd, userdel, groupdel and sh;
	// macOS uses sudo, su, sh, dscl, createhomedir, hdiutil, mdutil, killall, chown, chmod, rm.
	SuPath            string `json:"su_path"`
	SudoPath          string `json:"sudo_path"`
	ShPath            string `json:"sh_path"`
	TarPath           string `json:"tar_path"`
	MountPath         string `json:"mount_path"`
	ChownPath         string `json:"chown_path"`
	ChmodPath         string `json:"chmod_path"`
	KillallPath       string `json:"killall_path"`
	RmPath            string `json:"rm_path"`
	DsclPath          string `json:"dscl_path"`
	HdiutilPath       string `json:"hdiutil_path"`
	MdutilPath        string `json:"mdutil_path"`
	CreatehomedirPath string `json:"createhomedir_path"`
	UseraddPath       string `json:"useradd_path"`
	UserdelPath       string `json:"userdel_path"`
	GroupdelPath      string `json:"groupdel_path"`

	// ImagesPath is the image cache; WorkspacePath holds the driver's records (and, on macOS,
	// the per-user disks). Both are made absolute against the working directory and created.
	ImagesPath    string `json:"images_path"`
	WorkspacePath string `json:"workspace_path"`
	// HomesPath is where user homes are created (Linux default /home, macOS /Users). Every
	// ancestor must be traversable by other users, which the factory's self-test proves.
	HomesPath string `json:"homes_path"`
	// DisksPath is where disk directories are created on Linux (default: HomesPath), as
	// <disks_path>/<user>-disk-<name>.
	DisksPath string `json:"disks_path"`
	// CgroupPath is the cgroup v2 directory under which each user gets its cgroup (Linux
	// default: <cgroup2 mount>/fish). "none" disables cgroups.
	CgroupPath string `json:"cgroup_path"`

	// CapacityConfig holds cpu_alter, ram_alter, cpu_overbook and ram_overbook; the alter
	// amounts apply to the host's CPU count and RAM GB.
	driver.CapacityConfig

	DownloadUser     string `json:"download_user"`
	DownloadPassword string `json:"download_password"`
}

// errConfig marks configuration errors.
var errConfig = errors.New("invalid config")

// decodeConfig decodes raw strictly; empty or null means all defaults.
func decodeConfig(raw json.RawMessage) (Config, error) {
	var cfg Config
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return cfg, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("%w: %w", errConfig, err)
	}
	return cfg, nil
}

// absDir makes p absolute against workDir (default def when empty) and creates it with perm.
func absDir(p, def, workDir string, perm os.FileMode) (string, error) {
	if p == "" {
		p = def
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(workDir, p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%w: path %q: %w", errConfig, p, err)
	}
	if err := os.MkdirAll(abs, perm); err != nil {
		return "", fmt.Errorf("create %s: %w", abs, err)
	}
	return abs, nil
}

// tool resolves a tool: an explicit path must exist and be executable, otherwise name is
// looked up in PATH.
func tool(key, explicit, name string) (string, error) {
	if explicit != "" {
		st, err := os.Stat(explicit)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %w", errConfig, key, err)
		}
		if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("%w: %s: %s is not executable", errConfig, key, explicit)
		}
		return explicit, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("tool %s not found (set %s): %w", name, key, err)
	}
	return p, nil
}
