// Package tlsutil creates and loads the node's TLS material: the cluster CA, the node certificate
// issued by it, and the tls.Config values built from them. It also derives the node identity
// (UID and stored public key) from the certificate key, as behaviour.md §7 and §11 describe.
package tlsutil

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// PEM block types of the files this package reads and writes.
const (
	blockCert   = "CERTIFICATE"
	blockCACert = "CA CERTIFICATE"
	blockKey    = "PRIVATE KEY"
)

// File modes: private keys are readable by the owner only.
const (
	keyMode  fs.FileMode = 0o600
	certMode fs.FileMode = 0o644
	dirMode  fs.FileMode = 0o750
)

// Paths holds the resolved file paths of the TLS material (see Resolve).
type Paths struct {
	CACert, CAKey, NodeCert, NodeKey string
}

// NewPaths resolves the configured file names against the data directory dir; the CA key path is
// derived from the CA certificate path (CAKeyPath).
func NewPaths(dir, caCert, nodeCert, nodeKey string) Paths {
	ca := Resolve(dir, caCert)
	return Paths{
		CACert:   ca,
		CAKey:    CAKeyPath(ca),
		NodeCert: Resolve(dir, nodeCert),
		NodeKey:  Resolve(dir, nodeKey),
	}
}

// Resolve returns p when it is absolute and p joined to dir otherwise.
func Resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// CAKeyPath returns the CA certificate path with its extension replaced by ".key"
// ("ca.crt" → "ca.key"; a path without extension gets ".key" appended).
func CAKeyPath(caCert string) string {
	return strings.TrimSuffix(caCert, filepath.Ext(caCert)) + ".key"
}

// exists reports whether path exists; errors other than "not exist" are returned so that an
// unreadable file is never mistaken for a missing one (and silently replaced).
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// writeFile writes data atomically (temporary file in the same directory, then rename) so a crash
// never leaves a truncated certificate or key behind.
func writeFile(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// encodeKey returns the PKCS#8 PEM encoding of key.
func encodeKey(key crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: blockKey, Bytes: der}), nil
}

// readKey reads a PKCS#8 "PRIVATE KEY" PEM file and returns a signing key.
func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != blockKey {
		return nil, fmt.Errorf("%s: no %q PEM block", path, blockKey)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: key of type %T cannot sign", path, key)
	}
	return signer, nil
}

// readCert reads the first "CERTIFICATE" block of a PEM file.
func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no %q PEM block", path, blockCert)
		}
		if block.Type != blockCert {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return cert, nil
	}
}
