// Command node benchmarks one aquarium-fish node as a client sees it: it starts the binary in a
// temporary directory with the test driver, then measures
//
//   - alloc: N applications created by C concurrent clients, each polled until ALLOCATED and
//     then deallocated (create → ALLOCATED latency, full cycle throughput);
//   - get:   C concurrent keep-alive clients listing labels for D (requests per second);
//
// and the node's resident memory (idle, after each phase) and start-up time.
//
//	go build -o /tmp/aquarium-fish ./cmd/aquarium-fish
//	go run ./bench/node -bin /tmp/aquarium-fish -n 200 -c 20 -d 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "", "aquarium-fish binary (required)")
	n := flag.Int("n", 200, "applications in the alloc phase")
	c := flag.Int("c", 20, "concurrent clients")
	d := flag.Duration("d", 10*time.Second, "duration of the get phase")
	poll := flag.Duration("poll", 5*time.Millisecond, "state poll interval")
	flag.Parse()
	if *bin == "" {
		log.Fatal("-bin is required")
	}
	nd, err := startNode(*bin)
	if err != nil {
		log.Fatal(err)
	}
	defer nd.stop()
	time.Sleep(time.Second) // let the node settle before measuring idle memory
	report := map[string]any{"startup_s": nd.startup.Seconds(), "rss_idle_mb": nd.rssMB()}

	cl := newClient(nd.addr, nd.token, *c)
	label, err := cl.createLabel()
	if err != nil {
		log.Fatal(err)
	}
	alloc, cycle, wall, err := allocPhase(cl, label, *n, *c, *poll)
	if err != nil {
		log.Fatal(err)
	}
	report["alloc_p50_ms"], report["alloc_p99_ms"] = pct(alloc, 50), pct(alloc, 99)
	report["cycle_per_s"] = float64(*n) / wall.Seconds()
	report["cycle_p50_ms"] = pct(cycle, 50)
	report["rss_after_alloc_mb"] = nd.rssMB()

	rps, lat := getPhase(cl, *c, *d)
	report["get_rps"], report["get_p50_ms"], report["get_p99_ms"] = rps, pct(lat, 50), pct(lat, 99)
	report["rss_after_get_mb"] = nd.rssMB()
	report["rss_peak_mb"] = nd.hwmMB()
	out, _ := json.MarshalIndent(report, "", "  ")
	fmt.Println(string(out))
}

type node struct {
	cmd     *exec.Cmd
	dir     string
	addr    string
	token   string
	startup time.Duration
}

func startNode(bin string) (*node, error) {
	dir, err := os.MkdirTemp("", "fish-bench-")
	if err != nil {
		return nil, err
	}
	cfg := "---\nnode_name: bench\napi_address: 127.0.0.1:0\nproxy_address: 127.0.0.1:0\ndrivers:\n  - name: test\n"
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", "config.yml")
	cmd.Dir = dir
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	nd := &node{cmd: cmd, dir: dir}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "Admin user pass: "):
				nd.token = strings.TrimPrefix(line, "Admin user pass: ")
			case strings.Contains(line, "API listening on: "):
				nd.addr = strings.TrimSpace(line[strings.Index(line, "API listening on: ")+len("API listening on: "):])
			case strings.HasSuffix(line, "Fish initialized"):
				nd.startup = time.Since(start)
				ready <- nil
			}
		}
		ready <- fmt.Errorf("node exited before it was ready")
	}()
	select {
	case err := <-ready:
		return nd, err
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("node not ready in 60 s")
	}
}

func (nd *node) stop() {
	nd.cmd.Process.Signal(syscall.SIGTERM)
	nd.cmd.Wait()
	os.RemoveAll(nd.dir)
}

func (nd *node) status(key string) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", nd.cmd.Process.Pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key+":") {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, key+":")), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

func (nd *node) rssMB() float64 { return nd.status("VmRSS") }
func (nd *node) hwmMB() float64 { return nd.status("VmHWM") }

type client struct {
	base, user, pass string
	http             *http.Client
}

func newClient(addr, token string, c int) *client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: c * 2}
	return &client{base: "https://" + addr + "/api/v1", user: "admin", pass: token, http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (c *client) do(method, path string, body any, out any) error {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, c.base+path, r)
	req.SetBasicAuth(c.user, c.pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (c *client) createLabel() (string, error) {
	var l struct{ UID string }
	err := c.do("POST", "/label/", map[string]any{
		"name": fmt.Sprintf("bench-%d", time.Now().UnixNano()), "version": 1,
		"definitions": []any{map[string]any{"driver": "test", "resources": map[string]any{"cpu": 1, "ram": 2}}},
	}, &l)
	return l.UID, err
}

func (c *client) waitStatus(app, want string, poll time.Duration) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var st struct{ Status string }
		if err := c.do("GET", "/application/"+app+"/state", nil, &st); err != nil {
			return err
		}
		if st.Status == want {
			return nil
		}
		if st.Status == "ERROR" {
			return fmt.Errorf("application %s: ERROR", app)
		}
		time.Sleep(poll)
	}
	return fmt.Errorf("application %s: not %s in time", app, want)
}

// allocPhase runs n create → ALLOCATED → deallocate → DEALLOCATED cycles with c workers.
func allocPhase(cl *client, label string, n, c int, poll time.Duration) (alloc, cycle []time.Duration, wall time.Duration, err error) {
	var mu sync.Mutex
	var next atomic.Int64
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				var app struct{ UID string }
				err := cl.do("POST", "/application/", map[string]string{"label_UID": label}, &app)
				if err == nil {
					err = cl.waitStatus(app.UID, "ALLOCATED", poll)
				}
				t1 := time.Now()
				if err == nil {
					err = cl.do("GET", "/application/"+app.UID+"/deallocate", nil, nil)
				}
				if err == nil {
					err = cl.waitStatus(app.UID, "DEALLOCATED", poll)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				alloc = append(alloc, t1.Sub(t0))
				cycle = append(cycle, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return alloc, cycle, time.Since(start), firstErr
}

// getPhase lists labels back to back with c workers for d.
func getPhase(cl *client, c int, d time.Duration) (float64, []time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(end) {
				t0 := time.Now()
				if cl.do("GET", "/label/", nil, nil) == nil {
					mine = append(mine, time.Since(t0))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(len(lat)) / time.Since(start).Seconds(), lat
}

func pct(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return float64(s[max(i-1, 0)].Microseconds()) / 1000
}
