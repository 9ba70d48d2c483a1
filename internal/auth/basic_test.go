package auth

import (
	"encoding/base64"
	"errors"
	"testing"
)

func TestParseBasic(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, header string
		user, pass   string
		err          error
	}{
		{"plain", "Basic " + enc("admin:pw"), "admin", "pw", nil},
		{"lowercase scheme", "basic " + enc("admin:pw"), "admin", "pw", nil},
		{"uppercase scheme", "BASIC " + enc("admin:pw"), "admin", "pw", nil},
		{"colon in password", "Basic " + enc("u:a:b:c"), "u", "a:b:c", nil},
		{"empty password", "Basic " + enc("u:"), "u", "", nil},
		{"extra spaces", "  Basic   " + enc("u:p") + " ", "u", "p", nil},
		{"missing", "", "", "", ErrNoCredentials},
		{"scheme only", "Basic", "", "", ErrNoCredentials},
		{"scheme and space", "Basic ", "", "", ErrNoCredentials},
		{"other scheme", "Bearer " + enc("u:p"), "", "", ErrNoCredentials},
		{"no colon", "Basic " + enc("admin"), "", "", ErrNoCredentials},
		{"bad base64", "Basic !!!notbase64", "", "", ErrBadEncoding},
		{"bad padding", "Basic YWRtaW46cHc", "", "", ErrBadEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, err := ParseBasic(tt.header)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if user != tt.user || pass != tt.pass {
				t.Errorf("got (%q, %q), want (%q, %q)", user, pass, tt.user, tt.pass)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	tests := []struct {
		caller, owner string
		admin, access bool
	}{
		{"admin", "alice", true, true},
		{"admin", "", true, true},
		{"alice", "alice", false, true},
		{"alice", "bob", false, false},
		{"Admin", "bob", false, false},
		{"", "", false, false},
	}
	for _, tt := range tests {
		if got := IsAdmin(tt.caller); got != tt.admin {
			t.Errorf("IsAdmin(%q) = %v", tt.caller, got)
		}
		if got := CanAccess(tt.caller, tt.owner); got != tt.access {
			t.Errorf("CanAccess(%q, %q) = %v", tt.caller, tt.owner, got)
		}
	}
}
