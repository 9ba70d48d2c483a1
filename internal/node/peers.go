package node

import (
	"crypto/tls"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/store"
	"github.com/aquarium-fish/aquarium-fish/internal/tlsutil"
)

// peerTLS is how this node talks to other members: mutual TLS against the cluster CA, with the
// node certificate as client certificate. A member's identity is its certificate's key.
type peerTLS struct {
	mat    *tlsutil.Material
	tls    *tls.Config
	client *http.Client
}

func newPeerTLS(mat *tlsutil.Material) *peerTLS {
	cfg := mat.ClientConfig()
	return &peerTLS{
		mat: mat,
		tls: cfg,
		client: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: cfg.Clone(), ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 16},
		},
	}
}

// dialRaft opens a raft connection to a peer: TLS with ALPN ProtoRaft.
func (p *peerTLS) dialRaft(address string, timeout time.Duration) (net.Conn, error) {
	cfg := p.tls.Clone()
	cfg.NextProtos = []string{store.ProtoRaft}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", address, cfg)
	if err != nil {
		return nil, err
	}
	if c.ConnectionState().NegotiatedProtocol != store.ProtoRaft {
		c.Close()
		return nil, errors.New("peer does not speak the raft protocol")
	}
	return c, nil
}

// verifyRequest admits cluster requests only from holders of a CA-signed client certificate.
func (p *peerTLS) verifyRequest(r *http.Request) error {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return errors.New("client certificate is not provided")
	}
	_, err := p.mat.VerifyPeer(r.TLS.PeerCertificates)
	return err
}

// newServer is the HTTPS server of the API port: HTTP/1.1 and HTTP/2 for clients, and raft
// connections (ALPN ProtoRaft) from members with a valid client certificate.
func newServer(h http.Handler, mat *tlsutil.Material, stream *store.StreamLayer, peers *peerTLS, logger *slog.Logger) *http.Server {
	cfg := mat.ServerConfig()
	cfg.NextProtos = append(cfg.NextProtos, store.ProtoRaft)
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         cfg,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(slogWriter{logger.With("component", "http")}, "", 0),
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){
			store.ProtoRaft: func(_ *http.Server, c *tls.Conn, _ http.Handler) {
				if _, err := peers.mat.VerifyPeer(c.ConnectionState().PeerCertificates); err != nil {
					logger.Warn("refused a raft connection", "peer", c.RemoteAddr().String(), "err", err)
					return
				}
				stream.Handoff(c)
			},
		},
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	srv.Protocols = &protocols
	return srv
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
