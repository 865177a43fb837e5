// Package secrets seals integration credentials at rest with the deployment's key (AES-256-GCM), so a database
// dump or backup never holds a usable Zendesk token.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Key is the 32-byte key that seals tokens.
type Key struct {
	aead cipher.AEAD
	// fingerprint (SHA-256 of the key) tells two configured keys apart without keeping a second copy of the key
	// where a stray %v could print it.
	fingerprint [32]byte
}

const (
	EnvKey     = "ZENDESK_SYNC_SECRET_KEY"
	EnvKeyFile = "ZENDESK_SYNC_SECRET_KEY_FILE"
)

// ErrNoKey says the key is not configured; nothing can be stored or read without it.
var ErrNoKey = errors.New("secret key missing: set " + EnvKey + " (64 hex characters, e.g. `openssl rand -hex 32`) or " + EnvKeyFile)

// ParseKey reads a key written as 64 hex characters.
func ParseKey(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	// The messages say what is wrong with the key, never what it holds.
	if len(s) != 64 {
		return nil, fmt.Errorf("secret key must be 64 hex characters (32 bytes), got %d characters", len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("secret key must be 64 hex characters (32 bytes): it holds characters other than 0-9 and a-f")
	}
	block, err := aes.NewCipher(b)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Key{aead: aead, fingerprint: sha256.Sum256(b)}, nil
}

// LoadKey takes the key from ZENDESK_SYNC_SECRET_KEY or from the file ZENDESK_SYNC_SECRET_KEY_FILE names.
//
// Neither silently wins over the other: a key file that is named is always read, and one that cannot be read or
// holds no valid key is an error naming the file and the problem, even when the variable is also set (a typo in a
// mounted secret must not go unnoticed behind a leftover variable). When both are set they must hold the same key,
// else tokens sealed by one process could not be opened by another. Errors never contain the key.
func LoadKey() (*Key, error) {
	var fromEnv, fromFile *Key
	if v := os.Getenv(EnvKey); v != "" {
		k, err := ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKey, err)
		}
		fromEnv = k
	}
	if path := os.Getenv(EnvKeyFile); path != "" {
		k, err := readKeyFile(path)
		if err != nil {
			return nil, err
		}
		fromFile = k
	}
	switch {
	case fromEnv != nil && fromFile != nil:
		if fromEnv.fingerprint != fromFile.fingerprint {
			return nil, fmt.Errorf("%s and the key file %s (%s) hold different keys: set only one, or the same key in both",
				EnvKey, os.Getenv(EnvKeyFile), EnvKeyFile)
		}
		return fromEnv, nil
	case fromEnv != nil:
		return fromEnv, nil
	case fromFile != nil:
		return fromFile, nil
	}
	return nil, ErrNoKey
}

// readKeyFile reads the key file named by ZENDESK_SYNC_SECRET_KEY_FILE; surrounding white space (a trailing
// newline) is ignored.
func readKeyFile(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		// The *PathError already names the file and the operation.
		return nil, fmt.Errorf("%s: cannot read the secret key file: %w", EnvKeyFile, err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: secret key file %s: %w", EnvKeyFile, path, err)
	}
	return k, nil
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
