// Package internal holds the node's packages. This file pins dependencies that
// packages still being written will import; it is removed once they do.
package internal

import (
	_ "github.com/anishathalye/porcupine"
	_ "github.com/armon/go-socks5"
	_ "github.com/docker/docker/client"
	_ "github.com/getkin/kin-openapi/openapi3"
	_ "github.com/gobwas/glob"
	_ "github.com/google/uuid"
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/raft-boltdb/v2"
	_ "github.com/shirou/gopsutil/v4/host"
	_ "github.com/spf13/pflag"
	_ "github.com/ulikunitz/xz"
	_ "golang.org/x/crypto/argon2"
	_ "modernc.org/sqlite"
	_ "sigs.k8s.io/yaml"
)
