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

// A key file that is named is always read: when it is missing, unreadable or malformed, LoadKey fails with an
// error naming the file and the problem, even with a valid ZENDESK_SYNC_SECRET_KEY beside it. Two different keys
// are an error too. No error ever shows a key.
func TestBadKeyFileIsAnErrorEvenWhenTheVariableIsSet(t *testing.T) {
	dir := t.TempDir()
	otherKey := strings.Repeat("ab", 32)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	malformed := "0123456789abcdef-this-is-not-a-key-" + strings.Repeat("9", 29) // 64 characters, not all hex
	cases := []struct {
		name, file string
		want       []string
	}{
		{"missing", filepath.Join(dir, "nope"), []string{EnvKeyFile, filepath.Join(dir, "nope"), "no such file"}},
		{"directory", dir, []string{EnvKeyFile, dir, "is a directory"}},
		{"empty", write("empty", ""), []string{filepath.Join(dir, "empty"), "64 hex characters", "got 0"}},
		{"malformed", write("malformed", malformed+"\n"), []string{filepath.Join(dir, "malformed"), "other than 0-9"}},
		{"different key", write("other", otherKey+"\n"), []string{filepath.Join(dir, "other"), EnvKey, "different keys"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvKey, testKey)
			t.Setenv(EnvKeyFile, c.file)
			k, err := LoadKey()
			if err == nil {
				t.Fatalf("LoadKey accepted the bad key file %s (key %v)", c.file, k != nil)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, secret := range []string{testKey, otherKey, malformed} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a key", err)
				}
			}
		})
	}

	// The same key in both places is fine, and a valid file alone is enough.
	same := write("same", "  "+testKey+"\n")
	t.Setenv(EnvKey, testKey)
	t.Setenv(EnvKeyFile, same)
	if _, err := LoadKey(); err != nil {
		t.Fatalf("the same key in the variable and the file: %v", err)
	}
	t.Setenv(EnvKey, "")
	if _, err := LoadKey(); err != nil {
		t.Fatalf("key file alone: %v", err)
	}
	// A malformed variable names the variable, not its value.
	t.Setenv(EnvKey, malformed)
	t.Setenv(EnvKeyFile, "")
	if _, err := LoadKey(); err == nil || !strings.Contains(err.Error(), EnvKey) || strings.Contains(err.Error(), malformed) {
		t.Fatalf("malformed variable: %v", err)
	}
}
