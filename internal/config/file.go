package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/yamljson"
)

// fileConfig is the YAML file as written by the user; its keys are the contract of
// cli-config.md §2. An empty value means "not set" (the default stays).
type fileConfig struct {
	Directory               string         `json:"directory"`
	APIAddress              string         `json:"api_address"`
	ProxyAddress            string         `json:"proxy_address"`
	NodeAddress             string         `json:"node_address"`
	ClusterJoin             []string       `json:"cluster_join"`
	TLSKey                  string         `json:"tls_key"`
	TLSCrt                  string         `json:"tls_crt"`
	TLSCACrt                string         `json:"tls_ca_crt"`
	NodeName                string         `json:"node_name"`
	NodeLocation            string         `json:"node_location"`
	NodeIdentifiers         []string       `json:"node_identifiers"`
	DefaultResourceLifetime string         `json:"default_resource_lifetime"`
	Drivers                 []DriverConfig `json:"drivers"`
}

// readFile reads and strictly decodes the YAML file at path: an unknown key is an error. The
// YAML is read as YAML 1.2 (`node_name: n` is the name "n"), and a key given twice takes its
// last value (the test harness appends `node_name: "<name>"` to the files it writes).
func readFile(path string) (fileConfig, error) {
	var fc fileConfig
	data, err := os.ReadFile(path)
	if err != nil {
		return fc, err
	}
	js, err := yamljson.ToJSON(data)
	if err != nil {
		return fc, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return fc, decodeError(err)
	}
	return fc, nil
}

// decodeError rewords JSON decoding errors in terms of the YAML file.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		hint := ""
		if typeErr.Type.Kind() == reflect.String && (typeErr.Value == "bool" || typeErr.Value == "number") {
			// true/false (or a number) where a name is expected: never guess the text, ask for quotes.
			hint = " (quote the value)"
		}
		return fmt.Errorf("key %q: expected %s, got %s%s", typeErr.Field, kindName(typeErr.Type.Kind()), typeErr.Value, hint)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("unknown key %s", field)
	}
	return err
}

func kindName(kind reflect.Kind) string {
	switch kind {
	case reflect.Slice:
		return "a list"
	case reflect.Struct:
		return "a mapping"
	default:
		return kind.String()
	}
}

// apply sets the values given in the file on c.
func (fc fileConfig) apply(c *Config) error {
	setString(&c.Directory, fc.Directory)
	setString(&c.APIAddress, fc.APIAddress)
	setString(&c.ProxyAddress, fc.ProxyAddress)
	setString(&c.NodeAddress, fc.NodeAddress)
	c.NodeAddressSet = c.NodeAddressSet || fc.NodeAddress != ""
	setString(&c.TLSKey, fc.TLSKey)
	setString(&c.TLSCrt, fc.TLSCrt)
	setString(&c.TLSCACrt, fc.TLSCACrt)
	setString(&c.NodeName, fc.NodeName)
	setString(&c.NodeLocation, fc.NodeLocation)
	if len(fc.ClusterJoin) > 0 {
		c.ClusterJoin = fc.ClusterJoin
	}
	if len(fc.NodeIdentifiers) > 0 {
		c.NodeIdentifiers = fc.NodeIdentifiers
	}
	if fc.DefaultResourceLifetime != "" {
		d, err := time.ParseDuration(fc.DefaultResourceLifetime)
		if err != nil {
			return lifetimeError{err}
		}
		c.DefaultResourceLifetime = d // zero or negative: no expiry
	}
	for _, d := range fc.Drivers {
		if bytes.Equal(bytes.TrimSpace(d.Cfg), []byte("null")) {
			d.Cfg = nil
		}
		c.Drivers = append(c.Drivers, d)
	}
	return nil
}

// lifetimeError is an unparsable default_resource_lifetime, worded as cli-config.md §2 says.
type lifetimeError struct{ err error }

func (e lifetimeError) Error() string {
	return "Fish: Default Resource Lifetime parse error: default_resource_lifetime: " + e.err.Error()
}

func (e lifetimeError) Unwrap() error { return e.err }

func setString(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}
