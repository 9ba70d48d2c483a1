package tlsutil

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func testPaths(t *testing.T) Paths {
	t.Helper()
	return NewPaths(t.TempDir(), "ca.crt", "node-1.crt", "node-1.key")
}

func mustEnsure(t *testing.T, p Paths, name, addr string, extra ...string) {
	t.Helper()
	if err := Ensure(p, name, addr, extra...); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
}

func readAll(t *testing.T, p Paths) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range []string{p.CACert, p.CAKey, p.NodeCert, p.NodeKey} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = data
	}
	return out
}

func TestPathHelpers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/d/ca.crt", "/d/ca.key"},
		{"/d/cluster.pem", "/d/cluster.key"},
		{"/d/ca", "/d/ca.key"},
	}
	for _, tt := range tests {
		if got := CAKeyPath(tt.in); got != tt.want {
			t.Errorf("CAKeyPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := Resolve("/data", "x.crt"); got != "/data/x.crt" {
		t.Errorf("Resolve relative = %q", got)
	}
	if got := Resolve("/data", "/etc/x.crt"); got != "/etc/x.crt" {
		t.Errorf("Resolve absolute = %q", got)
	}
	p := NewPaths("/data", "ca.crt", "n.crt", "n.key")
	want := Paths{CACert: "/data/ca.crt", CAKey: "/data/ca.key", NodeCert: "/data/n.crt", NodeKey: "/data/n.key"}
	if p != want {
		t.Errorf("NewPaths = %+v, want %+v", p, want)
	}
}

func TestEnsureGeneratesAndReuses(t *testing.T) {
	p := testPaths(t)
	mustEnsure(t, p, "node-1", "127.0.0.1:8001")
	first := readAll(t, p)

	for f, mode := range map[string]fs.FileMode{p.CAKey: 0o600, p.NodeKey: 0o600, p.CACert: 0o644, p.NodeCert: 0o644} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v", filepath.Base(f), st.Mode().Perm(), mode)
		}
	}

	mustEnsure(t, p, "node-1", "127.0.0.1:8001")
	for f, data := range readAll(t, p) {
		if !bytes.Equal(data, first[f]) {
			t.Errorf("%s changed on second Ensure", filepath.Base(f))
		}
	}
}

func TestCertificateContents(t *testing.T) {
	p := testPaths(t)
	mustEnsure(t, p, "node-1", "10.1.2.3:8001", "fish.example", "::1")

	data, err := os.ReadFile(p.NodeCert)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		types = append(types, b.Type)
	}
	if !slices.Equal(types, []string{"CERTIFICATE", "CA CERTIFICATE"}) {
		t.Errorf("node cert blocks = %v", types)
	}
	for _, f := range []string{p.CAKey, p.NodeKey} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := pem.Decode(data); b == nil || b.Type != "PRIVATE KEY" {
			t.Errorf("%s: not a PKCS#8 PRIVATE KEY block", filepath.Base(f))
		}
	}

	m, err := Load(p)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ca, leaf := m.CA, m.Leaf
	if ca.Subject.CommonName != "ClusterCA" || !slices.Equal(ca.Subject.Organization, []string{"Example Co CA"}) {
		t.Errorf("CA subject = %v", ca.Subject)
	}
	if !ca.IsCA || ca.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign {
		t.Errorf("CA IsCA=%v KeyUsage=%v", ca.IsCA, ca.KeyUsage)
	}
	if years := ca.NotAfter.Sub(ca.NotBefore).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("CA validity = %.2f years", years)
	}
	if leaf.Subject.CommonName != "node-1" || !slices.Equal(leaf.Subject.Organization, []string{"Example Co Crt"}) {
		t.Errorf("node subject = %v", leaf.Subject)
	}
	if years := leaf.NotAfter.Sub(leaf.NotBefore).Hours() / 24 / 365; years < 0.99 || years > 1.01 {
		t.Errorf("node validity = %.2f years", years)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature || leaf.IsCA {
		t.Errorf("node KeyUsage=%v IsCA=%v", leaf.KeyUsage, leaf.IsCA)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("node ExtKeyUsage = %v", leaf.ExtKeyUsage)
	}
	for _, k := range []any{ca.PublicKey, leaf.PublicKey} {
		if ec, ok := k.(*ecdsa.PublicKey); !ok || ec.Curve != elliptic.P256() {
			t.Errorf("key is %T, want ECDSA P-256", k)
		}
	}
	if !slices.Equal(leaf.DNSNames, []string{"node-1", "fish.example"}) {
		t.Errorf("DNS SANs = %v", leaf.DNSNames)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if !slices.Equal(ips, []string{"10.1.2.3", "::1"}) {
		t.Errorf("IP SANs = %v", ips)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: m.CAPool, DNSName: "node-1"}); err != nil {
		t.Errorf("chain does not verify: %v", err)
	}
	if _, err := m.VerifyPeer([]*x509.Certificate{leaf}); err != nil {
		t.Errorf("VerifyPeer(own cert): %v", err)
	}
}

func TestDNSNodeAddress(t *testing.T) {
	p := testPaths(t)
	mustEnsure(t, p, "node-1", "fish-1.internal:8001")
	m, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Leaf.DNSNames, []string{"node-1", "fish-1.internal"}) || len(m.Leaf.IPAddresses) != 0 {
		t.Errorf("SANs = %v %v", m.Leaf.DNSNames, m.Leaf.IPAddresses)
	}
}

func TestMissingCAKey(t *testing.T) {
	p := testPaths(t)
	mustEnsure(t, p, "node-1", "127.0.0.1:8001")
	for _, f := range []string{p.CAKey, p.NodeCert} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	err := Ensure(p, "node-1", "127.0.0.1:8001")
	if !errors.Is(err, ErrCAKeyMissing) {
		t.Fatalf("err = %v, want ErrCAKeyMissing", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte(p.CAKey)) {
		t.Errorf("error %q does not name %s", err, p.CAKey)
	}
}

func TestCAKeyOnlyNeededToIssue(t *testing.T) {
	p := testPaths(t)
	mustEnsure(t, p, "node-1", "127.0.0.1:8001")
	if err := os.Remove(p.CAKey); err != nil {
		t.Fatal(err)
	}
	mustEnsure(t, p, "node-1", "127.0.0.1:8001")
}

func TestSecondNodeJoinsWithCopiedCA(t *testing.T) {
	p1 := testPaths(t)
	mustEnsure(t, p1, "node-1", "127.0.0.1:8001")
	p2 := NewPaths(t.TempDir(), "ca.crt", "node-2.crt", "node-2.key")
	for src, dst := range map[string]string{p1.CACert: p2.CACert, p1.CAKey: p2.CAKey} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustEnsure(t, p2, "node-2", "127.0.0.2:8001")
	m1, err := Load(p1)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Load(p2)
	if err != nil {
		t.Fatal(err)
	}
	uid2, err := m1.VerifyPeer([]*x509.Certificate{m2.Leaf})
	if err != nil {
		t.Fatalf("node-1 does not trust node-2: %v", err)
	}
	if want, _ := m2.UID(); uid2 != want {
		t.Errorf("VerifyPeer UID = %v, want %v", uid2, want)
	}

	// A node of another cluster is rejected.
	other := testPaths(t)
	mustEnsure(t, other, "node-1", "127.0.0.1:8001")
	mo, err := Load(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m1.VerifyPeer([]*x509.Certificate{mo.Leaf}); !errors.Is(err, ErrUntrustedPeer) {
		t.Errorf("foreign cert: err = %v, want ErrUntrustedPeer", err)
	}
	if _, err := m1.VerifyPeer(nil); !errors.Is(err, ErrUntrustedPeer) {
		t.Errorf("no cert: err = %v, want ErrUntrustedPeer", err)
	}
}

func TestNodeKeyReusedForMissingCert(t *testing.T) {
	p := testPaths(t)
	mustEnsure(t, p, "node-1", "127.0.0.1:8001")
	m1, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p.NodeCert); err != nil {
		t.Fatal(err)
	}
	mustEnsure(t, p, "node-1", "127.0.0.1:8001")
	m2, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	u1, _ := m1.UID()
	u2, _ := m2.UID()
	if u1 != u2 {
		t.Errorf("identity changed: %v → %v", u1, u2)
	}
}

func TestNodeUID(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NodeUID(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NodeUID(key.Public())
	if a != b {
		t.Errorf("NodeUID not stable: %v %v", a, b)
	}
	if a[6]>>4 != 0 {
		t.Errorf("version nibble = %x, want 0 (%v)", a[6]>>4, a)
	}
	if a[8]>>6 != 0b10 {
		t.Errorf("variant bits = %b, want 10 (%v)", a[8]>>6, a)
	}
	if s := a.String(); s[14] != '0' {
		t.Errorf("UID %s: version digit is not 0", s)
	}
	der, err := PubKeyDER(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if pub, err := x509.ParsePKIXPublicKey(der); err != nil || !key.PublicKey.Equal(pub) {
		t.Errorf("PubKeyDER does not round-trip: %v", err)
	}
	if _, err := NodeUID(struct{}{}); err == nil {
		t.Error("NodeUID accepted an unsupported key")
	}
}

// handshake runs a TLS handshake over an in-memory pipe and returns the client certificates the
// server received and the client and server errors.
func handshake(t *testing.T, client, server *tls.Config) (peer []*x509.Certificate, cErr, sErr error) {
	t.Helper()
	cConn, sConn := net.Pipe()
	defer cConn.Close()
	defer sConn.Close()
	deadline := time.Now().Add(10 * time.Second)
	_ = cConn.SetDeadline(deadline)
	_ = sConn.SetDeadline(deadline)
	type result struct {
		err  error
		peer []*x509.Certificate
	}
	done := make(chan result, 1)
	go func() {
		s := tls.Server(sConn, server)
		err := s.Handshake()
		done <- result{err, s.ConnectionState().PeerCertificates}
	}()
	cErr = tls.Client(cConn, client).Handshake()
	cConn.Close() // unblocks the server if the client gave up
	r := <-done
	return r.peer, cErr, r.err
}

func loadNew(t *testing.T, name string) *Material {
	t.Helper()
	p := NewPaths(t.TempDir(), "ca.crt", name+".crt", name+".key")
	mustEnsure(t, p, name, "127.0.0.1:8001")
	m, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestServerClientHandshake(t *testing.T) {
	m := loadNew(t, "node-1")
	srv := m.ServerConfig()
	if srv.MinVersion != tls.VersionTLS12 || srv.ClientAuth != tls.RequestClientCert ||
		!slices.Equal(srv.NextProtos, []string{"h2", "http/1.1"}) {
		t.Errorf("ServerConfig = min %x auth %v alpn %v", srv.MinVersion, srv.ClientAuth, srv.NextProtos)
	}
	peer, cErr, sErr := handshake(t, m.ClientConfig(), srv)
	if cErr != nil || sErr != nil {
		t.Fatalf("handshake: client %v, server %v", cErr, sErr)
	}
	uid, err := m.VerifyPeer(peer)
	if err != nil {
		t.Fatalf("VerifyPeer: %v", err)
	}
	if want, _ := m.UID(); uid != want {
		t.Errorf("peer UID = %v, want %v", uid, want)
	}

	// A client of another cluster refuses this server.
	other := loadNew(t, "node-2")
	if _, cErr, _ := handshake(t, other.ClientConfig(), srv); !errors.Is(cErr, ErrUntrustedPeer) {
		t.Errorf("foreign server accepted: client err = %v", cErr)
	}
}
