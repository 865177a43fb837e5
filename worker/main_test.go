package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/secrets"
)

const (
	helpSecretPassword = "SuperSecret123"
	helpSecretKey      = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

// The worker's help shows where each setting comes from, never a value taken from the environment (DATABASE_URL
// may hold a password), and names the secret-key variables.
func TestWorkerHelpShowsNoSecret(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(helpSecretKey), 0o600))
	env := map[string]string{
		"DATABASE_URL":        "postgres://u:" + helpSecretPassword + "@db.internal/db",
		"TEMPORAL_ADDRESS":    "temporal.internal:7233",
		"TEMPORAL_NAMESPACE":  "ns-from-env",
		"TASK_QUEUE":          "queue-from-env",
		"METRICS_ADDR":        "metrics.internal:9999",
		"WORKER_STOP_TIMEOUT": "77s",
		"RETENTION":           "1234h",
		"LOG_FORMAT":          "json",
		secrets.EnvKey:        helpSecretKey,
		secrets.EnvKeyFile:    keyFile,
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"--no-such-flag"}, {"-stop-timeout", "soon"}} {
		var out bytes.Buffer
		code := run(context.Background(), args, &out)
		text := out.String()
		if args[0] == "--no-such-flag" || args[0] == "-stop-timeout" {
			assert.Equalf(t, exitUsage, code, "%v: %s", args, text)
		} else {
			assert.Equalf(t, 0, code, "%v: %s", args, text)
		}
		for _, name := range []string{"$DATABASE_URL", "$TEMPORAL_ADDRESS", "$TEMPORAL_NAMESPACE", "$TASK_QUEUE",
			"$METRICS_ADDR", "$WORKER_STOP_TIMEOUT", "$RETENTION", "$LOG_FORMAT", secrets.EnvKey, secrets.EnvKeyFile,
			"-stop-timeout", "-retention"} {
			assert.Containsf(t, text, name, "worker %v names %s", args, name)
		}
		for k, v := range env {
			if k == "LOG_FORMAT" { // "json" is a word of the help itself
				continue
			}
			assert.NotContainsf(t, text, v, "worker %v shows the value of %s", args, k)
		}
	}
}

// A malformed setting in the environment is a clear error naming the variable, before anything connects.
func TestWorkerRejectsAMalformedSetting(t *testing.T) {
	t.Setenv("WORKER_STOP_TIMEOUT", "a while")
	var out bytes.Buffer
	assert.Equal(t, exitUsage, run(context.Background(), nil, &out))
	assert.Contains(t, out.String(), "WORKER_STOP_TIMEOUT")
	assert.Contains(t, out.String(), `"a while"`)
}

// A key file that cannot be read stops the worker before it connects, even with a valid ZENDESK_SYNC_SECRET_KEY:
// the error names the file and never shows the key.
func TestWorkerRefusesABadKeyFileEvenWithTheVariableSet(t *testing.T) {
	dir := t.TempDir()
	malformed := filepath.Join(dir, "malformed")
	require.NoError(t, os.WriteFile(malformed, []byte("not a key\n"), 0o600))
	for _, file := range []string{filepath.Join(dir, "missing"), malformed} {
		t.Setenv(secrets.EnvKey, helpSecretKey)
		t.Setenv(secrets.EnvKeyFile, file)
		// Nothing listens there: were the key file ignored, the worker would go on and fail to connect instead.
		t.Setenv("DATABASE_URL", "postgres://u:"+helpSecretPassword+"@127.0.0.1:1/db?connect_timeout=1")
		var out bytes.Buffer
		code := run(context.Background(), []string{"-metrics-addr="}, &out)
		assert.Equal(t, exitFailure, code, out.String())
		assert.Contains(t, out.String(), file)
		assert.Contains(t, out.String(), secrets.EnvKeyFile)
		assert.NotContains(t, out.String(), "connect to PostgreSQL", "the key is checked first")
		assert.NotContains(t, out.String(), helpSecretKey)
		assert.NotContains(t, out.String(), helpSecretPassword)
		assert.False(t, strings.Contains(out.String(), "panic"))
	}
}
