package tlsutil

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"fmt"

	"github.com/google/uuid"
)

// PubKeyDER returns the PKIX (SubjectPublicKeyInfo) DER encoding of pub, the form stored
// (base64) in Node.pubkey and hashed into the node UID.
func PubKeyDER(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("tls: public key: %w", err)
	}
	return der, nil
}

// NodeUID derives the node UID from the node certificate's public key (behaviour.md §7):
// the first 16 bytes of SHA-256(16 zero bytes || PKIX DER of pub), with the version nibble set
// to 0 and the RFC 4122 variant bits. The same key always gives the same UID.
func NodeUID(pub crypto.PublicKey) (uuid.UUID, error) {
	der, err := PubKeyDER(pub)
	if err != nil {
		return uuid.Nil, err
	}
	h := sha256.New()
	h.Write(make([]byte, 16))
	h.Write(der)
	var id uuid.UUID
	copy(id[:], h.Sum(nil))
	id[6] &= 0x0f             // version 0
	id[8] = id[8]&0x3f | 0x80 // variant 10
	return id, nil
}
