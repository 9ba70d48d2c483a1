package auth

import (
	"crypto/rand"
	"fmt"
)

// passwordAlphabet has 58 characters: no 0/O, no l/I, to be read and typed without confusion.
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ123456789"

// PasswordLength is the length of generated passwords.
const PasswordLength = 64

// GeneratePassword returns a random password of PasswordLength characters from the 58-character
// alphabet of api-v1.md §2.
func GeneratePassword() (string, error) {
	const n = len(passwordAlphabet)
	// Bytes >= limit are rejected so every character is equally likely (no modulo bias).
	const limit = 256 - 256%n
	out := make([]byte, 0, PasswordLength)
	buf := make([]byte, PasswordLength+PasswordLength/4)
	for len(out) < PasswordLength {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < PasswordLength {
				out = append(out, passwordAlphabet[int(b)%n])
			}
		}
	}
	return string(out), nil
}
