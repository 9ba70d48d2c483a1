// Command aquarium-fish runs one node of an Aquarium Fish cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/aquarium-fish/aquarium-fish/internal/config"
	"github.com/aquarium-fish/aquarium-fish/internal/logging"
	"github.com/aquarium-fish/aquarium-fish/internal/node"

	// The built-in drivers register themselves.
	_ "github.com/aquarium-fish/aquarium-fish/internal/driver/absent"
	_ "github.com/aquarium-fish/aquarium-fish/internal/driver/docker"
	_ "github.com/aquarium-fish/aquarium-fish/internal/driver/native"
	_ "github.com/aquarium-fish/aquarium-fish/internal/driver/test"
)

// Set at build time with -ldflags "-X main.version=... -X main.buildTime=...".
var (
	version   = "dev"
	buildTime = "unknown"
)

func main() {
	os.Exit(run())
}

// stampVersion fills the version from the build's VCS stamp when no -ldflags gave one.
func stampVersion() {
	info, ok := debug.ReadBuildInfo()
	if !ok || version != "dev" {
		return
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			version = "dev-" + s.Value[:min(12, len(s.Value))]
		case "vcs.time":
			buildTime = s.Value
		}
	}
}

func run() int {
	stampVersion()
	cfg, err := config.Load(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, config.ErrHelp):
		return 0
	case errors.Is(err, config.ErrVersion):
		fmt.Printf("aquarium-fish %s (%s)\n", version, buildTime)
		return 0
	case errors.As(err, new(*config.FileError)):
		// A log line, as the start-up of cli-config.md §2 says: the file could not be used.
		logging.New(os.Stdout, slog.LevelInfo, true).Error(err.Error())
		return 1
	case err != nil:
		fmt.Fprintf(os.Stderr, "aquarium-fish: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	defer stop()
	if err := node.Run(ctx, cfg, node.Build{Version: version, Time: buildTime}, os.Stdout, os.Stderr); err != nil && ctx.Err() == nil {
		return 1 // a start interrupted by SIGINT/SIGTERM is a requested stop: 0
	}
	return 0
}
