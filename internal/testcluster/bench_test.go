package testcluster

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/node"
	"github.com/aquarium-fish/aquarium-fish/internal/scheduler"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
)

var (
	benchApps    = flag.Int("cluster.apps", 100, "applications created per phase and cluster size")
	benchClients = flag.Int("cluster.clients", 8, "clients of the concurrent phase")
	benchPoll    = flag.Duration("cluster.poll", 2*time.Millisecond, "state poll interval of a client")
)

// productionTiming are the deadlines a production node runs with.
func productionTiming() node.Timing {
	return node.Timing{
		Raft:      300 * time.Millisecond,
		Apply:     10 * time.Second,
		Heartbeat: state.HeartbeatInterval,
		Supervise: scheduler.Deadlines{},
	}
}

// BenchmarkCluster measures 1, 3, 5 and 9 nodes on loopback in this process, with production
// timings and the test driver: applications created round-robin through every node, each
// polled through the node it was created through until ALLOCATED (create → ALLOCATED latency),
// first by one client (alloc-*), then by concurrent clients (allocN-*); then the leader is
// killed while every other node is asked to create (time until the first of those creations is
// acknowledged, and until every surviving node acknowledged one). Run it once per size:
//
//	go test -run '^$' -bench Cluster -benchtime 1x ./internal/testcluster/ [-args -cluster.apps=100 -cluster.clients=8]
func BenchmarkCluster(b *testing.B) {
	for _, n := range []int{1, 3, 5, 9} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			for b.Loop() {
				benchCluster(b, n)
			}
		})
	}
}

func benchCluster(b *testing.B, n int) {
	start := time.Now()
	c := NewWith(b, n, Options{Timing: productionTiming()})
	b.ReportMetric(time.Since(start).Seconds(), "start-s")
	l := c.CreateLabel(b, c.Node(0), "bench", TestDef(1, 1, nil))

	lat := allocLatencies(b, c, l.UID, *benchApps, 1)
	b.ReportMetric(pct(lat, 50), "alloc-p50-ms")
	b.ReportMetric(pct(lat, 99), "alloc-p99-ms")
	lat = allocLatencies(b, c, l.UID, *benchApps, *benchClients)
	b.ReportMetric(pct(lat, 50), "allocN-p50-ms")
	b.ReportMetric(pct(lat, 99), "allocN-p99-ms")
	if n == 1 {
		return
	}
	first, all := leaderKill(b, c, l.UID)
	b.ReportMetric(first.Seconds()*1000, "failover-first-ms")
	b.ReportMetric(all.Seconds()*1000, "failover-all-ms")
}

// allocLatencies creates total applications with clients concurrent clients, round-robin
// through every node, and returns each one's create → ALLOCATED latency in milliseconds as seen
// through the node it was created through.
func allocLatencies(b *testing.B, c *Cluster, label model.UID, total, clients int) []float64 {
	nodes := c.Running()
	var mu sync.Mutex
	var lat []float64
	var wg sync.WaitGroup
	next := make(chan int)
	go func() {
		for i := range total {
			next <- i
		}
		close(next)
	}()
	for range clients {
		wg.Go(func() {
			for i := range next {
				nd := nodes[i%len(nodes)]
				start := time.Now()
				a, err := c.CreateApp(context.Background(), nd, label)
				if err != nil {
					b.Errorf("create through %s: %v", nd.Name, err)
					return
				}
				if err := waitAllocated(c, nd, a.UID); err != nil {
					b.Error(err)
					return
				}
				d := float64(time.Since(start).Microseconds()) / 1000
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat
}

// waitAllocated polls app through nd every benchPoll until it is ALLOCATED.
func waitAllocated(c *Cluster, nd *Node, app model.UID) error {
	t := time.NewTicker(*benchPoll)
	defer t.Stop()
	deadline := time.After(30 * time.Second)
	for {
		s, err := c.AppState(context.Background(), nd, app)
		if err == nil && s.Status == model.StatusAllocated {
			return nil
		}
		select {
		case <-deadline:
			return fmt.Errorf("application %s through %s: %s (%v) after 30s", app, nd.Name, s.Status, err)
		case <-t.C:
		}
	}
}

// leaderKill kills the leader while clients create applications through every node and
// returns how long after the kill the first creation started after it was acknowledged, and
// how long until each surviving node had acknowledged one.
func leaderKill(b *testing.B, c *Cluster, label model.UID) (first, all time.Duration) {
	leader := c.Leader()
	var survivors []*Node
	for _, nd := range c.Running() {
		if nd != leader {
			survivors = append(survivors, nd)
		}
	}
	killed := time.Now()
	c.Kill(leader.Index)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, nd := range survivors {
		wg.Go(func() {
			for time.Since(killed) < 30*time.Second {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := c.CreateApp(ctx, nd, label)
				cancel()
				if err == nil {
					d := time.Since(killed)
					mu.Lock()
					if first == 0 || d < first {
						first = d
					}
					all = max(all, d)
					mu.Unlock()
					return
				}
			}
			b.Errorf("no creation through %s acknowledged within 30s of the leader's death", nd.Name)
		})
	}
	wg.Wait()
	return first, all
}

// pct is the p-th percentile of values.
func pct(values []float64, p float64) float64 {
	if len(values) == 0 {
		return 0
	}
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
