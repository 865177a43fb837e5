package secrets

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func TestSealOpenRoundTrip(t *testing.T) {
	k, err := ParseKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Seal("tok-123")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("tok-123")) {
		t.Fatal("sealed value contains the plain token")
	}
	got, err := k.Open(sealed)
	if err != nil || got != "tok-123" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := ParseKey(strings.Repeat("ab", 32))
	if _, err := other.Open(sealed); err == nil || strings.Contains(err.Error(), "tok-123") {
		t.Fatalf("wrong key must fail without leaking: %v", err)
	}
}

func TestParseKeyRejectsBadKeys(t *testing.T) {
	for _, s := range []string{"", "abc", strings.Repeat("zz", 32), strings.Repeat("ab", 16)} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

func TestLoadKey(t *testing.T) {
	t.Setenv(EnvKey, "")
	t.Setenv(EnvKeyFile, "")
	if _, err := LoadKey(); err != ErrNoKey {
		t.Fatalf("missing key: %v", err)
	}
	p := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(p, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvKeyFile, p)
	if _, err := LoadKey(); err != nil {
		t.Fatalf("key file: %v", err)
	}
	t.Setenv(EnvKey, "short")
	if _, err := LoadKey(); err == nil {
		t.Fatal("bad env key accepted")
	}
}
