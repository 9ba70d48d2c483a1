package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Sentinels returned by Load instead of a Config.
var (
	// ErrHelp: --help was given; the usage text has been written.
	ErrHelp = errors.New("help requested")
	// ErrVersion: --version was given; the caller prints the version.
	ErrVersion = errors.New("version requested")
)

// flagValues holds the parsed command line.
type flagValues struct {
	api, proxy, node, cfg, dir, verbosity string
	join, drivers                         []string
	timestamp, help, version              bool
}

func newFlagSet() (*pflag.FlagSet, *flagValues) {
	v := &flagValues{}
	fs := pflag.NewFlagSet("aquarium-fish", pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // Load reports errors itself
	fs.SortFlags = false
	fs.StringVarP(&v.api, "api", "a", "", "API listen address (overrides api_address)")
	fs.StringVarP(&v.proxy, "proxy", "p", "", "SOCKS5 proxy listen address (overrides proxy_address)")
	fs.StringVarP(&v.node, "node", "n", "", "external node address told to other nodes (overrides node_address)")
	fs.StringSliceVarP(&v.join, "join", "j", nil, "cluster node addresses to join, comma separated or repeated (overrides cluster_join)")
	fs.StringVarP(&v.cfg, "cfg", "c", "", "YAML config file")
	fs.StringVarP(&v.dir, "dir", "D", "", "data directory (overrides directory)")
	fs.StringVarP(&v.verbosity, "verbosity", "v", defaultVerbosity, "log level: debug, info, warn or error")
	// Bool flags as BoolFunc: same parsing, tidier usage text ("--help" rather than
	// "--help[=true|false]").
	v.timestamp = true
	fs.BoolFunc("timestamp", "prefix log lines with date and time: --timestamp=true|false (default true); the bare flag means false", boolSetter(&v.timestamp))
	// The reference node's quirk, kept for scripts that rely on it.
	fs.Lookup("timestamp").NoOptDefVal = "false"
	fs.StringSliceVar(&v.drivers, "drivers", nil, "driver names to enable, comma separated (overrides the names of drivers; cfg kept from the file)")
	fs.BoolFuncP("help", "h", "show this help", boolSetter(&v.help))
	fs.BoolFunc("version", "show the version", boolSetter(&v.version))
	return fs, v
}

func boolSetter(dst *bool) func(string) error {
	return func(s string) error {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		*dst = b
		return nil
	}
}

// FileError is a config file that cannot be read or used. Its text is the start-up line of
// cli-config.md §2: "Fish: Unable to apply config file: <path> <err>".
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string {
	return "Fish: Unable to apply config file: " + e.Path + " " + e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

// Usage writes the command line help.
func Usage(w io.Writer) {
	fs, _ := newFlagSet()
	fmt.Fprintf(w, "Usage: aquarium-fish [flags]\n\nFlags:\n%s", fs.FlagUsages())
}

// Load parses args (without the program name), reads the config file named by --cfg and returns
// the validated configuration. For --help it writes the usage to stdout and returns ErrHelp (a
// command line it cannot parse gets the usage on stderr); for --version it returns ErrVersion.
// Errors say what to fix.
func Load(args []string, stdout, stderr io.Writer) (Config, error) {
	fs, fv := newFlagSet()
	if err := fs.Parse(args); err != nil {
		Usage(stderr)
		return Config{}, fmt.Errorf("command line: %w", err)
	}
	if fv.help {
		Usage(stdout)
		return Config{}, ErrHelp
	}
	if fv.version {
		return Config{}, ErrVersion
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("command line: unexpected argument %q", fs.Arg(0))
	}

	c := baseDefaults()
	if fv.cfg != "" {
		fc, err := readFile(fv.cfg)
		if err == nil {
			err = fc.apply(&c)
		}
		if err != nil {
			return Config{}, &FileError{Path: fv.cfg, Err: err}
		}
		c.ConfigFile = fv.cfg
	}
	if err := fv.apply(&c); err != nil {
		return Config{}, err
	}
	c.deriveTLSNames()
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	return c, nil
}

// apply sets the values given on the command line on c; empty values leave c unchanged.
func (fv *flagValues) apply(c *Config) error {
	setString(&c.APIAddress, fv.api)
	setString(&c.ProxyAddress, fv.proxy)
	setString(&c.NodeAddress, fv.node)
	c.NodeAddressSet = c.NodeAddressSet || fv.node != ""
	setString(&c.Directory, fv.dir)
	if join := nonEmpty(fv.join); len(join) > 0 {
		c.ClusterJoin = join
	}
	level, err := parseLevel(fv.verbosity)
	if err != nil {
		return fmt.Errorf("--verbosity: %w", err)
	}
	c.LogLevel = level
	c.Timestamp = fv.timestamp
	if names := nonEmpty(fv.drivers); len(names) > 0 {
		c.Drivers = selectDrivers(c.Drivers, names)
	}
	return nil
}

// selectDrivers returns the drivers named on the command line, each with its cfg from the file
// when the file lists it (the first entry of that name), with an empty cfg otherwise.
func selectDrivers(fromFile []DriverConfig, names []string) []DriverConfig {
	out := make([]DriverConfig, 0, len(names))
	for _, n := range names {
		d := DriverConfig{Name: n}
		for _, f := range fromFile {
			if f.Name == n {
				d.Cfg = f.Cfg
				break
			}
		}
		out = append(out, d)
	}
	return out
}

// parseLevel maps a --verbosity value to a log level.
func parseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not a log level (use debug, info, warn or error)", s)
}

// nonEmpty returns the trimmed, non-empty items of list.
func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// validate checks what can be checked before the node starts.
func (c *Config) validate() error {
	if c.NodeName == "" {
		return errors.New("node_name is empty and the OS host name is unknown: set node_name")
	}
	if c.Directory == "" {
		return errors.New("directory is empty")
	}
	if err := checkHostPort(c.APIAddress); err != nil {
		return fmt.Errorf("api_address: %w", err)
	}
	if err := checkHostPort(c.NodeAddress); err != nil {
		return fmt.Errorf("node_address: %w", err)
	}
	// node_address names the database sub-directory.
	if strings.ContainsAny(c.NodeAddress, `/\`) {
		return fmt.Errorf("node_address: %q must not contain a path separator", c.NodeAddress)
	}
	for _, a := range c.ClusterJoin {
		if err := checkHostPort(a); err != nil {
			return fmt.Errorf("cluster_join: %w", err)
		}
	}
	seen := make(map[string]bool, len(c.Drivers))
	for i, d := range c.Drivers {
		if d.Name == "" {
			return fmt.Errorf("drivers[%d]: empty name", i)
		}
		if seen[d.Name] {
			return fmt.Errorf("drivers: %q is listed twice", d.Name)
		}
		seen[d.Name] = true
	}
	return nil
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if port == "" {
		return fmt.Errorf("%q has no port", addr)
	}
	return nil
}
