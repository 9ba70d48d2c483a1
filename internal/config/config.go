// Package config turns the command line and the YAML config file into the node's validated runtime
// Config (cli-config.md §1–§2). Precedence: built-in defaults (Defaults) < config file < flags.
// The file is decoded strictly: an unknown key is an error naming the key. Driver configuration
// stays raw JSON until the driver's factory decodes it.
package config

import (
	"encoding/json"
	"log/slog"
	"os"
	"time"
)

// DriverConfig enables one driver instance; Cfg is the driver's own configuration, passed on
// undecoded (empty when the entry has no cfg).
type DriverConfig struct {
	Name string          `json:"name"`
	Cfg  json.RawMessage `json:"cfg"`
}

// Config is the validated runtime configuration of a node. File names are as configured: relative
// TLS file names are resolved against Directory by the caller (see tlsutil.NewPaths).
type Config struct {
	ConfigFile string // path of the YAML file read, "" if none

	Directory    string // data directory
	APIAddress   string // HTTPS API listener, host:port
	ProxyAddress string // SOCKS5 listener
	NodeAddress  string // address told to other nodes; also the DB sub-directory name
	// NodeAddressSet says node_address was configured; otherwise the node advertises the address
	// its API really listens on.
	NodeAddressSet bool
	ClusterJoin    []string

	TLSKey   string // node key, default "<NodeName>.key"
	TLSCrt   string // node certificate, default "<NodeName>.crt"
	TLSCACrt string // cluster CA certificate; its key is the same path with extension ".key"

	NodeName        string
	NodeLocation    string
	NodeIdentifiers []string // empty: the node uses its default identifiers

	DefaultResourceLifetime time.Duration  // 0: none
	Drivers                 []DriverConfig // empty: all built-in drivers

	LogLevel  slog.Level
	Timestamp bool // prefix log lines with date and time
}

// Default values of cli-config.md §1–§2.
const (
	DefaultDirectory    = "fish_data"
	DefaultAPIAddress   = "0.0.0.0:8001"
	DefaultProxyAddress = "0.0.0.0:1080"
	DefaultNodeAddress  = "127.0.0.1:8001"
	DefaultTLSCACrt     = "ca.crt"
	defaultVerbosity    = "info"
)

// Defaults returns the built-in configuration: what a node runs with when no file and no flags
// are given. NodeName is the OS host name ("" if it cannot be read; Load then asks for node_name).
func Defaults() Config {
	c := baseDefaults()
	c.deriveTLSNames()
	return c
}

// baseDefaults is Defaults without the values derived from others (TLS file names), which Load
// derives only after the file and flags have set the node name.
func baseDefaults() Config {
	host, _ := os.Hostname()
	return Config{
		Directory:    DefaultDirectory,
		APIAddress:   DefaultAPIAddress,
		ProxyAddress: DefaultProxyAddress,
		NodeAddress:  DefaultNodeAddress,
		TLSCACrt:     DefaultTLSCACrt,
		NodeName:     host,
		LogLevel:     slog.LevelInfo,
		Timestamp:    true,
	}
}

// deriveTLSNames names the node key and certificate after the node when they are not configured.
func (c *Config) deriveTLSNames() {
	if c.TLSKey == "" {
		c.TLSKey = c.NodeName + ".key"
	}
	if c.TLSCrt == "" {
		c.TLSCrt = c.NodeName + ".crt"
	}
}
