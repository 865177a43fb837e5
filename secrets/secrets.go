// Package secrets seals integration credentials at rest with the deployment's key (AES-256-GCM), so a database
// dump or backup never holds a usable Zendesk token.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Key is the 32-byte key that seals tokens.
type Key struct{ aead cipher.AEAD }

const (
	EnvKey     = "ZENDESK_SYNC_SECRET_KEY"
	EnvKeyFile = "ZENDESK_SYNC_SECRET_KEY_FILE"
)

// ErrNoKey says the key is not configured; nothing can be stored or read without it.
var ErrNoKey = errors.New("secret key missing: set " + EnvKey + " (64 hex characters, e.g. `openssl rand -hex 32`) or " + EnvKeyFile)

// ParseKey reads a key written as 64 hex characters.
func ParseKey(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("secret key must be 64 hex characters (32 bytes), got %d characters", len(s))
	}
	block, err := aes.NewCipher(b)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Key{aead: aead}, nil
}

// LoadKey takes the key from the environment, or from the file the environment names.
func LoadKey() (*Key, error) {
	if v := os.Getenv(EnvKey); v != "" {
		return ParseKey(v)
	}
	if path := os.Getenv(EnvKeyFile); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read secret key file %s: %w", path, err)
		}
		k, err := ParseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("secret key file %s: %w", path, err)
		}
		return k, nil
	}
	return nil, ErrNoKey
}

// Seal encrypts plaintext; the random nonce is prepended to the result.
func (k *Key) Seal(plaintext string) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return k.aead.Seal(nonce, nonce, []byte(plaintext), nil), nil
}

// Open decrypts what Seal produced. A wrong key gives an error that says so, not the ciphertext.
func (k *Key) Open(sealed []byte) (string, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed secret is too short")
	}
	pt, err := k.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return "", errors.New("cannot decrypt the stored token: wrong secret key?")
	}
	return string(pt), nil
}
