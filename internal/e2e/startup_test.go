package e2e

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logLine is the debug log format of cli-config.md §4: date, time with microseconds, file:line,
// level and a TAB.
var logLine = regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} \S+:\d+: (DEBUG|INFO|WARN|ERROR):\t`)

// passwordRE is a generated password: 64 characters of the 58-character alphabet.
var passwordRE = regexp.MustCompile(`^[abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ123456789]{64}$`)

func TestStartupLines(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	lines := n.lines()

	// The lines that matter, in order (others may be interleaved). "Fish joining cluster..." is
	// left out: a single node that joins nothing need not print it.
	order := []struct {
		name  string
		match func(string) bool
	}{
		{"Aquarium Fish", logMsgPrefix("Aquarium Fish ")},
		{"Fish init TLS...", logMsg("Fish init TLS...")},
		{"Fish starting ORM...", logMsg("Fish starting ORM...")},
		{"Fish starting node...", logMsg("Fish starting node...")},
		{"Admin user pass", func(l string) bool { return strings.HasPrefix(l, adminPassPrefix) }},
		{"Create new node", logMsg("Fish: Create new node: node-1 test_loc")},
		{"node identifiers", logMsgPrefix("Fish: Using the next node identifiers: [")},
		{"driver enabled", logMsg("Fish: Resource driver enabled: test")},
		{"driver activated", logMsg("Fish: Resource driver activated: test")},
		{"socks5", logMsg("Fish starting socks5 proxy...")},
		{"starting API", logMsg("Fish starting API...")},
		{"API listening", func(l string) bool { return strings.Contains(l, apiListening) }},
		{"Fish initialized", func(l string) bool { return strings.HasSuffix(l, "Fish initialized") }},
	}
	at := 0
	for _, o := range order {
		i := at
		for i < len(lines) && !o.match(lines[i]) {
			i++
		}
		if i == len(lines) {
			t.Fatalf("line %q not found after line %d:\n%s", o.name, at, strings.Join(lines, "\n"))
		}
		at = i + 1
	}

	pass, _ := n.current().out.find(func(l string) bool { return strings.HasPrefix(l, adminPassPrefix) })
	if !passwordRE.MatchString(strings.TrimPrefix(pass, adminPassPrefix)) {
		t.Errorf("admin password line %q: want 64 characters of the generator alphabet", pass)
	}

	listen, _ := n.current().out.find(func(l string) bool { return strings.Contains(l, apiListening) })
	if !logLine.MatchString(listen) {
		t.Errorf("line %q does not have the debug log format", listen)
	}
	_, addr, _ := strings.Cut(listen, apiListening)
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Errorf("API listening address %q: want 127.0.0.1:<port> and nothing after it (%v)", addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p == 0 {
		t.Errorf("API listening port %q: want the real bound port", port)
	}

	// Some traffic, then "Fish initialized" must still end exactly one line.
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/label/", nil, nil)
	n.stop(t)
	count := 0
	for _, l := range n.lines() {
		if strings.HasSuffix(l, "Fish initialized") {
			count++
		}
		if strings.Contains(l, "Fish initialized") && !strings.HasSuffix(l, "Fish initialized") {
			t.Errorf("line %q contains \"Fish initialized\" not at its end", l)
		}
	}
	if count != 1 {
		t.Errorf("%d lines end with \"Fish initialized\", want exactly 1", count)
	}
	for _, want := range []string{"Fish stopping...", "Fish stopped"} {
		if _, ok := n.current().out.find(logMsg(want)); !ok {
			t.Errorf("no line %q after SIGINT", want)
		}
	}
}

// logMsg matches a log line whose message is msg (structured attributes may follow).
func logMsg(msg string) func(string) bool {
	return func(l string) bool {
		_, rest, ok := strings.Cut(l, "\t"+msg)
		return ok && (rest == "" || rest[0] == ' ')
	}
}

// logMsgPrefix matches a log line whose message starts with prefix.
func logMsgPrefix(prefix string) func(string) bool {
	return func(l string) bool { return strings.Contains(l, "\t"+prefix) }
}

func TestRestartKeepsIdentity(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	var before nodeInfo
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/node/this/", nil, &before)
	firstAddr := n.url("")

	n.restart(t) // asserts exit 0 within 1 s and no admin password line
	if _, ok := n.current().out.find(logMsg("Fish: Use existing node: node-1 test_loc")); !ok {
		t.Errorf("no line \"Fish: Use existing node: node-1 test_loc\" after restart")
	}
	var after nodeInfo
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/node/this/", nil, &after)
	if after.UID != before.UID || after.Name != "node-1" {
		t.Errorf("node after restart = %s %s, want %s node-1", after.UID, after.Name, before.UID)
	}
	if string(after.Pubkey) != string(before.Pubkey) {
		t.Errorf("node pubkey changed across restart")
	}
	t.Logf("API address %s then %s", firstAddr, n.url(""))
}

func TestNodeObject(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "someone")

	var this nodeInfo
	body := n.mustJSON(t, u, "GET", "/api/v1/node/this/", nil, &this)
	checkLayout(t, "node", body)
	// address is not checked: without node_address in the config, our node advertises its real
	// API address (the spec's default 127.0.0.1:8001 names only the database directory).
	if this.Name != "node-1" || this.LocationName != "test_loc" || this.Address == "" {
		t.Errorf("this node = name %q location %q address %q, want node-1 test_loc and an address", this.Name, this.LocationName, this.Address)
	}

	// The UID is derived from the certificate's public key (behaviour.md §7) and pubkey is that
	// key's DER.
	leaf := readCert(t, filepath.Join(n.dir, "fish_data", "node-1.crt"))
	der, err := x509.MarshalPKIXPublicKey(leaf.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if string(this.Pubkey) != string(der) {
		t.Errorf("pubkey is not the DER of the node certificate's public key")
	}
	sum := sha256.Sum256(append(make([]byte, 16), der...))
	id := sum[:16]
	id[6] &= 0x0f
	id[8] = id[8]&0x3f | 0x80
	want := formatUUID(id)
	if this.UID != want {
		t.Errorf("node UID = %s, want %s (SHA-256 of 16 zero bytes + pubkey DER)", this.UID, want)
	}

	var nodes []nodeInfo
	body = n.mustJSON(t, u, "GET", "/api/v1/node/", nil, &nodes)
	checkLayout(t, "node list", body)
	if len(nodes) != 1 || nodes[0].UID != this.UID {
		t.Errorf("node list = %+v, want this node only", nodes)
	}

	var locs []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/location/", nil, &locs)
	if len(locs) != 1 || locs[0].Name != "test_loc" || locs[0].Description != "Created automatically during node 'node-1' startup" {
		t.Errorf("locations = %+v, want test_loc created automatically", locs)
	}
	status, b := n.as(t, u, "GET", "/api/v1/location/", nil)
	expect(t, "location list as a user", status, b, 403)
}

func formatUUID(b []byte) string {
	const hex = "0123456789abcdef"
	var out []byte
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}

// readCert returns the first certificate of a PEM file.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDataDirLayout(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	data := filepath.Join(n.dir, "fish_data")

	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%v", err)
			return 0
		}
		return fi.Mode()
	}
	if m := mode(data); !m.IsDir() || m.Perm() != 0o750 {
		t.Errorf("fish_data mode %v, want a directory 0750", m)
	}
	for _, f := range []string{"ca.key", "node-1.key"} {
		if m := mode(filepath.Join(data, f)); m.Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, m.Perm())
		}
	}
	for _, f := range []string{"ca.crt", "node-1.crt", filepath.Join("127.0.0.1:8001", "sqlite.db")} {
		if m := mode(filepath.Join(data, f)); !m.IsRegular() {
			t.Errorf("%s is not a regular file", f)
		}
	}
	if m := mode(filepath.Join(n.dir, "fish_test_workspace")); !m.IsDir() {
		t.Errorf("fish_test_workspace is not a directory next to fish_data")
	}

	pemTypes := func(p string) []string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				return types
			}
			types = append(types, blk.Type)
		}
	}
	for f, want := range map[string]string{
		"ca.crt":     "CERTIFICATE",
		"ca.key":     "PRIVATE KEY",
		"node-1.crt": "CERTIFICATE,CA CERTIFICATE",
		"node-1.key": "PRIVATE KEY",
	} {
		if got := strings.Join(pemTypes(filepath.Join(data, f)), ","); got != want {
			t.Errorf("%s PEM blocks %q, want %q", f, got, want)
		}
	}

	ca := readCert(t, filepath.Join(data, "ca.crt"))
	leaf := readCert(t, filepath.Join(data, "node-1.crt"))
	if !ca.IsCA || ca.Subject.CommonName != "ClusterCA" {
		t.Errorf("CA cert: IsCA %v CN %q, want a CA named ClusterCA", ca.IsCA, ca.Subject.CommonName)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Errorf("node cert is not signed by the CA: %v", err)
	}
	if leaf.Subject.CommonName != "node-1" {
		t.Errorf("node cert CN %q, want node-1", leaf.Subject.CommonName)
	}
	if err := leaf.VerifyHostname("node-1"); err != nil {
		t.Errorf("node cert SAN: %v", err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("node cert SAN: %v", err)
	}

	// The API serves the node certificate.
	resp, _ := n.send(t, n.newRequest(t, "GET", "/api/v1/node/this/", nil, ""))
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 || !resp.TLS.PeerCertificates[0].Equal(leaf) {
		t.Errorf("the API does not serve fish_data/node-1.crt")
	}
}

func TestStopSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			n := startNode(t, nodeOpts{})
			// An idle keep-alive connection must not delay the stop.
			n.mustJSON(t, n.adminCred(), "GET", "/api/v1/user/me/", nil, nil)
			n.signalStop(t, sig)
		})
	}
	t.Run("request in flight", func(t *testing.T) {
		t.Parallel()
		n := startNode(t, nodeOpts{})
		// A 20 s CPU profile is in flight: the stop must not wait for it.
		req := n.newRequest(t, "GET", "/api/v1/node/this/profiling/profile?seconds=20", nil, "")
		req.SetBasicAuth("admin", n.token)
		started := make(chan struct{})
		go func() {
			close(started)
			if resp, err := n.http.c.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		<-started
		// Let the request reach the node: wait for the goroutine's connection to be in use.
		poll(time.Second, func() bool { return strings.Contains(n.goroutines(t), "pprof.Profile") })
		n.signalStop(t, syscall.SIGINT)
	})
}

// goroutines returns the node's goroutine dump (admin profiling).
func (n *fishNode) goroutines(t *testing.T) string {
	t.Helper()
	_, body := n.admin(t, "GET", "/api/v1/node/this/profiling/goroutine?debug=2", nil)
	return string(body)
}
