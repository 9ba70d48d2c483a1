package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/store"
	"github.com/aquarium-fish/aquarium-fish/internal/tlsutil"
)

// protoPeer is an ALPN name that members add to the protocols of their HTTPS requests to other
// members. The server never selects it: it only tells the server that a handshake comes from a
// node, so that a node that refuses this node's certificate is logged as such.
const protoPeer = "fish-peer"

// peerTLS is how this node talks to other members: mutual TLS against the cluster CA, with the
// node certificate as client certificate. A member's identity is its certificate's key (its node
// UID). Faults (tests only) may cut the links to some members.
type peerTLS struct {
	mat    *tlsutil.Material
	tls    *tls.Config
	self   string // this node's UID
	faults *Faults
	client *http.Client
}

func newPeerTLS(mat *tlsutil.Material, self string, faults *Faults) *peerTLS {
	p := &peerTLS{mat: mat, tls: mat.ClientConfig(), self: self, faults: faults}
	p.client = &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialTLSContext: func(ctx context.Context, _, address string) (net.Conn, error) {
				return p.dial(ctx, address, []string{"h2", "http/1.1", protoPeer})
			},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     time.Minute,
		},
	}
	return p
}

// dial opens a TLS connection to a member offering protos, and checks who answered.
func (p *peerTLS) dial(ctx context.Context, address string, protos []string) (*tls.Conn, error) {
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, err
	}
	conn := p.faults.wrap(p.self, raw)
	cfg := p.tls.Clone()
	cfg.NextProtos = protos
	c := tls.Client(conn, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", address, err)
	}
	// The handshake verified the chain (ClientConfig); the leaf's key names the member.
	uid, err := tlsutil.NodeUID(c.ConnectionState().PeerCertificates[0].PublicKey)
	if err == nil {
		err = p.faults.identify(conn, uid.String())
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", address, err)
	}
	return c, nil
}

// dialRaft opens a raft connection to a peer: TLS with ALPN ProtoRaft.
func (p *peerTLS) dialRaft(address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := p.dial(ctx, address, []string{store.ProtoRaft})
	if err != nil {
		return nil, err
	}
	if c.ConnectionState().NegotiatedProtocol != store.ProtoRaft {
		c.Close()
		return nil, errors.New("peer does not speak the raft protocol")
	}
	return c, nil
}

// verifyRequest admits cluster requests only from holders of a CA-signed client certificate,
// and returns the caller's node UID.
func (p *peerTLS) verifyRequest(r *http.Request) (string, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", errors.New("client certificate is not provided")
	}
	uid, err := p.mat.VerifyPeer(r.TLS.PeerCertificates)
	if err != nil {
		return "", err
	}
	if p.faults.Cut(p.self, uid.String()) {
		return "", errPartitioned
	}
	return uid.String(), nil
}

// acceptRaft checks the member behind an accepted raft connection and hands the connection to
// raft; it returns when raft is done with it.
func (p *peerTLS) acceptRaft(c *tls.Conn, stream *store.StreamLayer, logger *slog.Logger) {
	uid, err := p.mat.VerifyPeer(c.ConnectionState().PeerCertificates)
	if err != nil {
		logger.Warn("refused a raft connection: its client certificate is not signed by the cluster CA",
			"peer", c.RemoteAddr().String(), "err", err)
		return
	}
	conn := p.faults.wrap(p.self, c)
	if err := p.faults.identify(conn, uid.String()); err != nil {
		return
	}
	stream.Handoff(conn)
}

// newServer is the HTTPS server of the API port: HTTP/1.1 and HTTP/2 for clients, and raft
// connections (ALPN ProtoRaft) from members with a valid client certificate.
func newServer(h http.Handler, mat *tlsutil.Material, stream *store.StreamLayer, peers *peerTLS, logger *slog.Logger) *http.Server {
	hs := &peerHandshakes{started: map[string]time.Time{}}
	cfg := mat.ServerConfig()
	cfg.NextProtos = append(cfg.NextProtos, store.ProtoRaft)
	cfg.GetConfigForClient = hs.track(cfg)
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         cfg,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(serverLog{log: logger.With("component", "http"), peers: hs}, "", 0),
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){
			store.ProtoRaft: func(_ *http.Server, c *tls.Conn, _ http.Handler) {
				peers.acceptRaft(c, stream, logger)
			},
		},
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	srv.Protocols = &protocols
	return srv
}

// peerHandshakes remembers the TLS handshakes that nodes start with this one (they offer
// ProtoRaft or protoPeer), until they complete. A node that does not trust this node's
// certificate aborts its handshake; the server's error log then names the refusal and its reason.
type peerHandshakes struct {
	mu      sync.Mutex
	started map[string]time.Time // remote address → handshake start
}

const maxPeerHandshakes = 1024

// track returns the server's GetConfigForClient: a handshake from a node gets a configuration
// that forgets it once it completes.
func (hs *peerHandshakes) track(base *tls.Config) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if hello.Conn == nil || !slices.ContainsFunc(hello.SupportedProtos, func(p string) bool { return p == protoPeer || p == store.ProtoRaft }) {
			return nil, nil
		}
		addr := hello.Conn.RemoteAddr().String()
		hs.mu.Lock()
		if len(hs.started) >= maxPeerHandshakes {
			for a, t := range hs.started {
				if time.Since(t) > time.Minute {
					delete(hs.started, a)
				}
			}
		}
		if len(hs.started) < maxPeerHandshakes {
			hs.started[addr] = time.Now()
		}
		hs.mu.Unlock()
		cfg := base.Clone()
		cfg.GetConfigForClient = nil
		cfg.VerifyConnection = func(tls.ConnectionState) error {
			hs.done(addr)
			return nil
		}
		return cfg, nil
	}
}

// done forgets a handshake and reports whether it came from a node.
func (hs *peerHandshakes) done(addr string) bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	_, ok := hs.started[addr]
	delete(hs.started, addr)
	return ok
}

// serverLog turns the lines of net/http's logger into records: debug, except failed handshakes
// of nodes, which are warnings that say why the node refused this one.
type serverLog struct {
	log   *slog.Logger
	peers *peerHandshakes
}

const handshakeError = "http: TLS handshake error from "

func (w serverLog) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	if rest, ok := strings.CutPrefix(line, handshakeError); ok {
		addr, reason, _ := strings.Cut(rest, ": ")
		if w.peers.done(addr) {
			msg := "TLS handshake with a node failed"
			if strings.Contains(reason, "bad certificate") || strings.Contains(reason, "unknown certificate") {
				msg = "a node refused this node's certificate: it trusts another CA (a joining node needs this cluster's ca.crt in its data dir)"
			}
			w.log.Warn(msg, "peer", addr, "err", reason)
			return len(p), nil
		}
	}
	w.log.Debug(line)
	return len(p), nil
}

// rejoinTargets are the members a restarting node asks to take it back: the configured ones
// and the peers it knew.
func rejoinTargets(join, peers []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range append(append([]string{}, join...), peers...) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}
