package auth

import (
	"encoding/base64"
	"errors"
	"strings"
)

// Errors of ParseBasic. The API answers 401 for ErrNoCredentials and 400 for ErrBadEncoding.
var (
	ErrNoCredentials = errors.New("no basic credentials")
	ErrBadEncoding   = errors.New("basic credentials are not valid base64")
)

// ParseBasic parses the value of an Authorization header carrying HTTP Basic credentials. The
// scheme word is matched case-insensitively; the password is everything after the first ':' (so
// it may contain ':'). A missing header, another scheme or credentials without ':' give
// ErrNoCredentials; invalid base64 gives ErrBadEncoding.
func ParseBasic(header string) (user, pass string, err error) {
	scheme, payload, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", ErrNoCredentials
	}
	payload = strings.TrimSpace(payload)
	if payload == "" {
		return "", "", ErrNoCredentials
	}
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return "", "", ErrBadEncoding
	}
	user, pass, found = strings.Cut(string(raw), ":")
	if !found {
		return "", "", ErrNoCredentials
	}
	return user, pass, nil
}
