package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/google/uuid"
)

// ErrUntrustedPeer is returned by VerifyPeer when a peer certificate does not chain to the cluster CA
// with the required usage.
var ErrUntrustedPeer = errors.New("peer certificate is not trusted by the cluster CA")

// Material is the loaded TLS material of a node.
type Material struct {
	Cert   tls.Certificate   // node certificate chain and key, for servers and clients
	Leaf   *x509.Certificate // parsed node certificate
	CAPool *x509.CertPool    // the cluster CA, the only trust anchor of cluster traffic
	CA     *x509.Certificate // parsed cluster CA certificate
}

// Load reads the node certificate and key and the CA certificate of p.
func Load(p Paths) (*Material, error) {
	certPEM, err := os.ReadFile(p.NodeCert)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	keyPEM, err := os.ReadFile(p.NodeKey)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	// X509KeyPair keeps only the "CERTIFICATE" blocks, so the appended "CA CERTIFICATE" is skipped.
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls: node certificate %s and key %s: %w", p.NodeCert, p.NodeKey, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls: node certificate %s: %w", p.NodeCert, err)
		}
		cert.Leaf = leaf
	}
	ca, err := readCert(p.CACert)
	if err != nil {
		return nil, fmt.Errorf("tls: CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &Material{Cert: cert, Leaf: leaf, CAPool: pool, CA: ca}, nil
}

// UID returns the node UID derived from the node certificate's public key.
func (m *Material) UID() (uuid.UUID, error) {
	return NodeUID(m.Leaf.PublicKey)
}

// ServerConfig returns a new TLS server configuration (TLS 1.2+) presenting the node certificate.
// Client certificates are requested but not verified here: only the cluster endpoint requires
// them, and it checks them with VerifyPeer. ALPN offers h2 and http/1.1; callers may add protocols.
func (m *Material) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{m.Cert},
		ClientAuth:   tls.RequestClientCert,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// ClientConfig returns a new TLS client configuration for cluster traffic: it presents the node
// certificate and accepts a server only if its certificate chains to the cluster CA with
// serverAuth usage. The host name is deliberately not checked: members are dialled by whatever
// address reaches them, and membership is proven by the CA signature, not by the name.
func (m *Material) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		Certificates:       []tls.Certificate{m.Cert},
		RootCAs:            m.CAPool,
		InsecureSkipVerify: true, // replaced by VerifyConnection below, which checks the chain
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := m.verify(cs.PeerCertificates, x509.ExtKeyUsageServerAuth)
			return err
		},
	}
}

// VerifyPeer verifies a peer's certificate chain (leaf first, as in tls.ConnectionState) against
// the cluster CA with clientAuth usage and returns the peer's node UID.
func (m *Material) VerifyPeer(certs []*x509.Certificate) (uuid.UUID, error) {
	return m.verify(certs, x509.ExtKeyUsageClientAuth)
}

func (m *Material) verify(certs []*x509.Certificate, usage x509.ExtKeyUsage) (uuid.UUID, error) {
	if len(certs) == 0 {
		return uuid.Nil, fmt.Errorf("%w: no certificate", ErrUntrustedPeer)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         m.CAPool,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return uuid.Nil, fmt.Errorf("%w: %w", ErrUntrustedPeer, err)
	}
	return NodeUID(certs[0].PublicKey)
}
