package auth

import (
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h, err := NewHash("s3cret:with colon")
	if err != nil {
		t.Fatal(err)
	}
	if h.Algo != "Argon2id" || len(h.Salt) != hashSaltLen || len(h.Key) != hashKeyLen {
		t.Fatalf("hash = %+v", h)
	}
	if !h.Verify("s3cret:with colon") {
		t.Error("correct password rejected")
	}
	for _, wrong := range []string{"", "s3cret", "s3cret:with colon ", "S3cret:with colon"} {
		if h.Verify(wrong) {
			t.Errorf("wrong password %q accepted", wrong)
		}
	}
	h2, err := NewHash("s3cret:with colon")
	if err != nil {
		t.Fatal(err)
	}
	if string(h2.Salt) == string(h.Salt) || string(h2.Key) == string(h.Key) {
		t.Error("two hashes of one password share salt or key")
	}
}

func TestVerifyRejectsUnusableHash(t *testing.T) {
	good, err := NewHash("pw")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]func(*Hash){
		"zero value":      func(h *Hash) { *h = Hash{} },
		"other algorithm": func(h *Hash) { h.Algo = "Argon2" },
		"zero time":       func(h *Hash) { h.Time = 0 },
		"zero threads":    func(h *Hash) { h.Threads = 0 },
		"zero memory":     func(h *Hash) { h.Memory = 0 },
		"huge memory":     func(h *Hash) { h.Memory = 1 << 30 },
		"empty key":       func(h *Hash) { h.Key = nil },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			h := good
			mutate(&h)
			if h.Verify("pw") {
				t.Error("accepted")
			}
		})
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 50 {
		pw, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 64 {
			t.Fatalf("len = %d", len(pw))
		}
		for _, r := range pw {
			if !strings.ContainsRune(passwordAlphabet, r) {
				t.Fatalf("%q outside the alphabet in %q", r, pw)
			}
			counts[r]++
		}
		if seen[pw] {
			t.Fatalf("repeated password %q", pw)
		}
		seen[pw] = true
	}
	if len(passwordAlphabet) != 58 {
		t.Errorf("alphabet has %d characters", len(passwordAlphabet))
	}
	// 3200 draws over 58 symbols: every symbol should show up (P(miss) ≈ 58·e^-55).
	if len(counts) != 58 {
		t.Errorf("only %d distinct characters in 3200 draws", len(counts))
	}
}
