package docker

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/driver/docker/dockertest"
	"github.com/aquarium-fish/aquarium-fish/internal/driver/drivertest"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

func TestConformance(t *testing.T) {
	cli := dockertest.Engine(t)
	img := seededImage(t, cli)
	node, work, api := uuid.New(), t.TempDir(), metaStandIn(t)
	drivertest.Run(t, drivertest.Config{
		New: func(t *testing.T) driver.Driver {
			return newDriver(t, newTestEnv(t, node, work, api).Env, "docker", "")
		},
		Definition: definition(img),
		Metadata:   map[string]any{"KEY": "value", "nested": map[string]any{"n": 1.0}},
		Exists: func(t *testing.T, a driver.Allocation) bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := cli.ContainerInspect(ctx, a.Identifier)
			return err == nil
		},
		Timeout: time.Minute,
	})
}

// BenchmarkAllocateCached measures an allocation and its deallocation once the image is in the
// engine: network, firewall rules, volume-less container create and start, then removal of all,
// with the host firewall and without.
func BenchmarkAllocateCached(b *testing.B) {
	cli := dockertest.Engine(b)
	img := seededImage(b, cli)
	api := metaStandIn(b)
	def := definition(img)
	ctx := context.Background()
	p, err := newPlan(def)
	if err != nil {
		b.Fatalf("plan: %v", err)
	}
	for _, c := range []struct{ name, cfg string }{{"firewall", ""}, {"no_firewall", `{"host_firewall": false}`}} {
		b.Run(c.name, func(b *testing.B) {
			d := newDriver(b, newTestEnv(b, uuid.New(), b.TempDir(), api).Env, "docker", c.cfg)
			if _, err := d.prepareImages(ctx, p.images); err != nil {
				b.Fatalf("prepare image: %v", err)
			}
			for b.Loop() {
				req := request(def, map[string]any{"KEY": "value"})
				a, err := d.Allocate(ctx, req)
				if err != nil {
					b.Fatalf("Allocate: %v", err)
				}
				if err := d.Deallocate(ctx, model.Resource{Identifier: a.Identifier}); err != nil {
					b.Fatalf("Deallocate: %v", err)
				}
			}
		})
	}
}
