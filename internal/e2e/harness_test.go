// Package e2e tests the aquarium-fish binary as a process, the way existing clients and test
// harnesses integrate with it: each test writes a config file into a fresh workspace, starts the
// real binary there with `-v debug -c config.yml`, reads its merged output line by line, waits for
// `Fish initialized`, and speaks HTTPS + Basic auth to the printed address with the printed admin
// password.
//
// TestMain builds the binary once (CGO_ENABLED=0) unless the environment variable FISH_PATH names
// one. At most maxNodes nodes run at once; tests that own a node run in parallel.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// maxNodes bounds the nodes running at once: the machine has 2 cores.
	maxNodes = 4
	// startDeadline is how long a node may take to print "Fish initialized".
	startDeadline = 30 * time.Second
	// stopDeadline is how soon a node must exit with status 0 after SIGINT (cli-config.md §5).
	stopDeadline = time.Second
	// maxLine is the line limit of the clients' harness (cli-config.md §4).
	maxLine = 64 << 10
)

// fishPath is the binary under test.
var fishPath string

// nodeSlots is the semaphore bounding the running nodes.
var nodeSlots = make(chan struct{}, maxNodes)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	// The tests mostly wait on nodes, not on the CPU: run up to maxNodes of them at once unless
	// the command line says otherwise (the default is GOMAXPROCS).
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", fmt.Sprint(maxNodes))
	}
	if p := os.Getenv("FISH_PATH"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "FISH_PATH: %v\n", err)
			return 1
		}
		fishPath = abs
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "fish-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "temp dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	fishPath = filepath.Join(dir, "aquarium-fish")
	build := exec.Command("go", "build", "-o", fishPath, "github.com/aquarium-fish/aquarium-fish/cmd/aquarium-fish")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build aquarium-fish: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// nodeOpts configures startNode.
type nodeOpts struct {
	name      string   // node_name; "node-1" when empty
	cpu, ram  int      // test driver cpu_limit/ram_limit; 4 and 8 when both are 0
	unlimited bool     // cpu_limit and ram_limit 0: the test driver has no limit
	driverCfg []string // more lines of the test driver cfg, e.g. "fail_deallocate: 255"
	extra     []string // more top-level YAML lines, written before node_name
	args      []string // more command-line arguments, after -v debug -c config.yml
}

// configYAML is the config file of the spec's example with the options applied.
func (o nodeOpts) configYAML() string {
	cpu, ram := o.cpu, o.ram
	if cpu == 0 && ram == 0 {
		cpu, ram = 4, 8
	}
	if o.unlimited {
		cpu, ram = 0, 0
	}
	var b strings.Builder
	b.WriteString("---\nnode_location: test_loc\napi_address: 127.0.0.1:0\nproxy_address: 127.0.0.1:0\n")
	fmt.Fprintf(&b, "drivers:\n  - name: test\n    cfg:\n      cpu_limit: %d\n      ram_limit: %d\n", cpu, ram)
	for _, l := range o.driverCfg {
		b.WriteString("      " + l + "\n")
	}
	for _, l := range o.extra {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "node_name: %q\n", o.nodeName())
	return b.String()
}

func (o nodeOpts) nodeName() string {
	if o.name == "" {
		return "node-1"
	}
	return o.name
}

// fishNode is a node started by a test, possibly restarted in the same workspace.
type fishNode struct {
	opts  nodeOpts
	dir   string // workspace: the working directory of the process
	token string // admin password, printed on the first start
	uid   string // node UID, read after the first start
	http  *httpClient

	mu   sync.Mutex
	proc *process
	addr string // host:port printed by the current process
}

// process is one run of the binary.
type process struct {
	cmd  *exec.Cmd
	out  *output
	done chan struct{} // closed when the process has exited
	code int           // exit code, valid once done is closed (-1: killed by a signal)
}

// startNode writes the config into a fresh workspace, starts the node and waits until it is
// initialized. The node is stopped when the test ends.
func startNode(t *testing.T, opts nodeOpts) *fishNode {
	t.Helper()
	nodeSlots <- struct{}{}
	n := &fishNode{opts: opts, dir: t.TempDir(), http: newHTTPClient()}
	t.Cleanup(func() {
		n.cleanup(t)
		<-nodeSlots
	})
	if err := os.WriteFile(filepath.Join(n.dir, "config.yml"), []byte(opts.configYAML()), 0o600); err != nil {
		t.Fatal(err)
	}
	p := n.launch(t)
	token, ok := p.out.find(func(l string) bool { return strings.HasPrefix(l, adminPassPrefix) })
	if !ok {
		t.Fatalf("first start printed no line starting with %q", adminPassPrefix)
	}
	n.token = strings.TrimPrefix(token, adminPassPrefix)
	var this nodeInfo
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/node/this/", nil, &this)
	n.uid = this.UID
	return n
}

const adminPassPrefix = "Admin user pass: "

// reconfigure rewrites the config file of a stopped node; the next start uses it.
func (n *fishNode) reconfigure(t *testing.T, opts nodeOpts) {
	t.Helper()
	if !n.exited() {
		t.Fatal("reconfigure: the node is still running")
	}
	n.opts = opts
	if err := os.WriteFile(filepath.Join(n.dir, "config.yml"), []byte(opts.configYAML()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// launch starts the binary in the workspace and waits for "Fish initialized".
func (n *fishNode) launch(t *testing.T) *process {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-v", "debug", "-c", filepath.Join(n.dir, "config.yml")}, n.opts.args...)
	cmd := exec.Command(fishPath, args...)
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = w, w // one stream, as the clients' harness merges them
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		t.Fatalf("start %s: %v", fishPath, err)
	}
	w.Close()
	p := &process{cmd: cmd, out: newOutput(), done: make(chan struct{})}
	drained := make(chan struct{})
	go func() {
		p.out.drain(r)
		close(drained)
	}()
	go func() {
		_ = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		// The last lines may still be in the pipe: "exited" means its output is read too
		// (bounded, in case a child process still holds the pipe).
		select {
		case <-drained:
		case <-time.After(2 * time.Second):
		}
		close(p.done)
	}()
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()

	if _, ok := p.out.waitFor(0, time.Now().Add(startDeadline), func(l string) bool {
		return strings.HasSuffix(l, "Fish initialized")
	}); !ok {
		select {
		case <-p.done:
			t.Fatalf("node exited with code %d before \"Fish initialized\"\n%s", p.code, p.out.tail(60))
		default:
			t.Fatalf("no \"Fish initialized\" within %v\n%s", startDeadline, p.out.tail(60))
		}
	}
	line, ok := p.out.find(func(l string) bool { return strings.Contains(l, apiListening) })
	if !ok {
		t.Fatalf("no line with %q", apiListening)
	}
	_, addr, _ := strings.Cut(line, apiListening)
	n.mu.Lock()
	n.addr = strings.TrimSpace(addr)
	n.mu.Unlock()
	return p
}

const apiListening = "API listening on: "

// current returns the running (or last) process.
func (n *fishNode) current() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// lines returns the output of the current process so far.
func (n *fishNode) lines() []string { return n.current().out.snapshot() }

// restart stops the node with SIGINT (asserting exit status 0 within stopDeadline) and starts it
// again in the same workspace. The admin password must not be printed again.
func (n *fishNode) restart(t *testing.T) {
	t.Helper()
	n.stop(t)
	p := n.launch(t)
	if l, ok := p.out.find(func(l string) bool { return strings.HasPrefix(l, adminPassPrefix) }); ok {
		t.Errorf("admin password printed again after restart: %q", l)
	}
}

// stop sends SIGINT and asserts that the process exits with status 0 within stopDeadline.
func (n *fishNode) stop(t *testing.T) {
	t.Helper()
	n.signalStop(t, syscall.SIGINT)
}

// signalStop sends sig and asserts a graceful exit (status 0 within stopDeadline).
func (n *fishNode) signalStop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p := n.current()
	n.http.closeIdle()
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	select {
	case <-p.done:
	case <-time.After(stopDeadline):
		// Give it a little more so the failure says what happened, then kill it.
		select {
		case <-p.done:
			t.Errorf("exit after %v took %v, want < %v", sig, time.Since(start).Round(time.Millisecond), stopDeadline)
		case <-time.After(4 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			t.Fatalf("process still running %v after %v; killed\n%s", time.Since(start).Round(time.Millisecond), sig, p.out.tail(40))
		}
	}
	if p.code != 0 {
		t.Fatalf("exit code after %v = %d, want 0\n%s", sig, p.code, p.out.tail(40))
	}
}

// kill9 kills the process with SIGKILL and waits for it.
func (n *fishNode) kill9(t *testing.T) {
	t.Helper()
	p := n.current()
	n.http.closeIdle()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-p.done
}

// start launches the node again in its workspace after it exited (kill9, API shutdown).
func (n *fishNode) start(t *testing.T) {
	t.Helper()
	select {
	case <-n.current().done:
	default:
		t.Fatal("start: the node is still running")
	}
	n.launch(t)
}

// waitExit waits for the process to exit and returns its exit code; it fails the test when the
// process is still running after timeout.
func (n *fishNode) waitExit(t *testing.T, timeout time.Duration) int {
	t.Helper()
	p := n.current()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		t.Fatalf("process still running after %v\n%s", timeout, p.out.tail(30))
		return 0
	}
}

// staysRunning asserts that the process does not exit during d.
func (n *fishNode) staysRunning(t *testing.T, d time.Duration) {
	t.Helper()
	p := n.current()
	select {
	case <-p.done:
		t.Fatalf("process exited (code %d) within %v\n%s", p.code, d, p.out.tail(30))
	case <-time.After(d):
	}
}

// exited reports whether the current process has exited.
func (n *fishNode) exited() bool {
	select {
	case <-n.current().done:
		return true
	default:
		return false
	}
}

// cleanup stops a node still running at the end of a test and reports what went wrong.
func (n *fishNode) cleanup(t *testing.T) {
	n.http.closeIdle()
	p := n.current()
	if p == nil {
		return
	}
	if !n.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
			if p.code != 0 {
				t.Errorf("exit code after SIGINT at the end of the test = %d, want 0", p.code)
			}
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			t.Errorf("node did not stop within 5s of SIGINT at the end of the test; killed")
		}
	}
	p.out.waitEOF(2 * time.Second)
	if p.out.tooLong() {
		t.Errorf("the node wrote a line longer than %d bytes", maxLine)
	}
	if t.Failed() {
		t.Logf("node output (last lines):\n%s", p.out.tail(80))
	}
}
