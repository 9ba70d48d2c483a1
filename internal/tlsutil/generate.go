package tlsutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// ErrCAKeyMissing is returned by Ensure when the node certificate must be issued but the CA private
// key is not in the data directory (a joining node needs a copy of the cluster's CA key).
var ErrCAKeyMissing = errors.New("the CA private key is required to issue the node certificate")

// Certificate parameters of behaviour.md §11.
const (
	caCommonName   = "ClusterCA"
	caOrganization = "Example Co CA"
	nodeOrg        = "Example Co Crt"
	caValidYears   = 10
	nodeValidYears = 1
	// backdate makes a fresh certificate valid on peers whose clock is slightly behind ours.
	backdate = 5 * time.Minute
)

// Ensure makes sure the TLS files of p exist, generating what is missing as behaviour.md §11 says:
// the CA (certificate and key) when its certificate is missing, and the node certificate when the
// node certificate or key is missing. Existing files are reused and never overwritten: an existing
// CA key is reused for a missing CA certificate, and an existing node key for a missing node
// certificate (so the node keeps its identity). The node certificate's SANs are nodeName, the host
// part of nodeAddress and extraSANs (IP SAN for IP addresses, DNS SAN otherwise).
func Ensure(p Paths, nodeName, nodeAddress string, extraSANs ...string) error {
	return ensure(p, nodeName, nodeAddress, extraSANs, time.Now())
}

func ensure(p Paths, nodeName, nodeAddress string, extraSANs []string, now time.Time) error {
	if nodeName == "" {
		return errors.New("tls: empty node name")
	}
	caCert, err := ensureCA(p, now)
	if err != nil {
		return fmt.Errorf("tls: CA %s: %w", p.CACert, err)
	}
	certOK, err := exists(p.NodeCert)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	keyOK, err := exists(p.NodeKey)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if certOK && keyOK {
		return nil
	}
	if err := issueNode(p, caCert, nodeName, nodeAddress, extraSANs, keyOK, now); err != nil {
		return fmt.Errorf("tls: node certificate %s: %w", p.NodeCert, err)
	}
	return nil
}

// ensureCA returns the CA certificate, creating it (and its key, unless one exists) when missing.
func ensureCA(p Paths, now time.Time) (*x509.Certificate, error) {
	certOK, err := exists(p.CACert)
	if err != nil {
		return nil, err
	}
	if certOK {
		return readCert(p.CACert)
	}
	key, err := loadOrNewKey(p.CAKey)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: caCommonName, Organization: []string{caOrganization}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caValidYears, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	if err := writeFile(p.CACert, pem.EncodeToMemory(&pem.Block{Type: blockCert, Bytes: der}), certMode); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// issueNode writes a node certificate signed by the CA key, reusing the node key when keyOK.
func issueNode(p Paths, caCert *x509.Certificate, nodeName, nodeAddress string, extraSANs []string, keyOK bool, now time.Time) error {
	caOK, err := exists(p.CAKey)
	if err != nil {
		return err
	}
	if !caOK {
		return fmt.Errorf("%w: %s is missing", ErrCAKeyMissing, p.CAKey)
	}
	caKey, err := readKey(p.CAKey)
	if err != nil {
		return err
	}
	if !samePublicKey(caKey.Public(), caCert.PublicKey) {
		return fmt.Errorf("CA key %s does not match CA certificate %s", p.CAKey, p.CACert)
	}
	var key crypto.Signer
	if keyOK {
		key, err = readKey(p.NodeKey)
	} else {
		key, err = newKey()
	}
	if err != nil {
		return err
	}
	serial, err := newSerial()
	if err != nil {
		return err
	}
	dns, ips := sans(append([]string{nodeName, addressHost(nodeAddress)}, extraSANs...))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeName, Organization: []string{nodeOrg}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.AddDate(nodeValidYears, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return err
	}
	if !keyOK {
		// The key goes first: if we stop between the two writes, the next run reuses it.
		keyPEM, err := encodeKey(key)
		if err != nil {
			return err
		}
		if err := writeFile(p.NodeKey, keyPEM, keyMode); err != nil {
			return err
		}
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: blockCert, Bytes: der})
	certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: blockCACert, Bytes: caCert.Raw})...)
	return writeFile(p.NodeCert, certPEM, certMode)
}

// loadOrNewKey reads the key at path, or generates one and writes it there.
func loadOrNewKey(path string) (crypto.Signer, error) {
	ok, err := exists(path)
	if err != nil {
		return nil, err
	}
	if ok {
		return readKey(path)
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	data, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	if err := writeFile(path, data, keyMode); err != nil {
		return nil, err
	}
	return key, nil
}

func newKey() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// newSerial returns a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// addressHost returns the host part of a "host:port" address, or the address itself when it has
// no port.
func addressHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
}

// sans splits names into DNS names and IP addresses, dropping empty and duplicate entries.
func sans(names []string) (dns []string, ips []net.IP) {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		if !seen[n] {
			seen[n] = true
			dns = append(dns, n)
		}
	}
	return dns, ips
}
