package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/secrets"
)

// The values a help text must never show: a password in DATABASE_URL, the secret key, and (for good measure)
// the other variables' values, which help texts name but do not print.
const (
	helpSecretPassword = "SuperSecret123"
	helpSecretKey      = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

func setSecretEnv(t *testing.T) {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(helpSecretKey+"\n"), 0o600))
	t.Setenv("DATABASE_URL", "postgres://u:"+helpSecretPassword+"@db.internal/db")
	t.Setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
	t.Setenv("TEMPORAL_NAMESPACE", "ns-from-env")
	t.Setenv("TASK_QUEUE", "queue-from-env")
	t.Setenv(secrets.EnvKey, helpSecretKey)
	t.Setenv(secrets.EnvKeyFile, keyFile)
}

// No help text, usage text or usage error of any command shows a value taken from the environment (DATABASE_URL
// may hold a password); the help names the variables instead, the secret-key ones included.
func TestNoSecretInAnyHelpText(t *testing.T) {
	setSecretEnv(t)
	var outputs []string
	runHelp := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, &out, &errOut)
		text := out.String() + errOut.String()
		outputs = append(outputs, strings.Join(args, " ")+"\n"+text)
		return code, text
	}

	var walk func(cmd *cobra.Command, path []string)
	seen := 0
	walk = func(cmd *cobra.Command, path []string) {
		seen++
		for _, args := range [][]string{append(append([]string{}, path...), "--help"), append([]string{"help"}, path...)} {
			code, text := runHelp(args...)
			assert.Equalf(t, 0, code, "%v: %s", args, text)
			for _, name := range []string{"$DATABASE_URL", "$TEMPORAL_ADDRESS", secrets.EnvKey, secrets.EnvKeyFile} {
				assert.Containsf(t, text, name, "starter %v names %s", args, name)
			}
		}
		for _, sub := range cmd.Commands() {
			if sub.Name() != "help" {
				walk(sub, append(append([]string{}, path...), sub.Name()))
			}
		}
	}
	root, _ := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	walk(root, nil)
	assert.GreaterOrEqual(t, seen, 20)

	// Usage errors print the usage too.
	for _, bad := range [][]string{{}, {"integration"}, {"case", "show"}, {"integration", "list", "--no-such-flag"}} {
		code, _ := runHelp(bad...)
		assert.Equalf(t, 2, code, "%v", bad)
	}

	for _, o := range outputs {
		for _, secret := range []string{helpSecretPassword, helpSecretKey, "db.internal", "temporal.internal",
			"ns-from-env", "queue-from-env"} {
			if strings.Contains(o, secret) {
				t.Errorf("a help text shows %q:\n%s", secret, o)
			}
		}
	}
}

// A named key file that cannot be read is an error for the commands that use the key, even with a valid key in
// ZENDESK_SYNC_SECRET_KEY; the error names the file and never shows the key.
func TestStarterRefusesABadKeyFileEvenWithTheVariableSet(t *testing.T) {
	c := newCLI(t) // sets a valid ZENDESK_SYNC_SECRET_KEY
	c.ok("user", "add", "--email", "admin@example.com", "--name", "Admin")
	missing := filepath.Join(t.TempDir(), "no-such-key")
	t.Setenv(secrets.EnvKeyFile, missing)
	r := c.run("integration", "create", "--name", "acme", "--url", "https://acme.zendesk.com", "--email", "api@acme.com",
		"--token", testToken, "--owner", "admin@example.com", "--no-check")
	assert.Equal(t, 1, r.code, "stderr %s", r.errOut)
	assert.Contains(t, r.errOut, secrets.EnvKeyFile)
	assert.Contains(t, r.errOut, missing)
	assert.NotContains(t, r.errOut+r.out, testKey)
	assert.JSONEq(t, "[]", c.ok("integration", "list", "-o", "json"), "nothing was created")
}

// A mistyped command gets the nearest commands as suggestions, with the usage exit code; every help names the
// exit codes.
func TestUnknownCommandSuggestsAndHelpNamesExitCodes(t *testing.T) {
	for args, want := range map[string]string{"intgration": "integration", "integration lst": "list",
		"case shwo": "show", "progres": "progress"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), strings.Fields(args), &out, &errOut)
		assert.Equalf(t, 2, code, "%s", args)
		assert.Containsf(t, errOut.String(), "Did you mean this?\n\t"+want, "%s", args)
	}
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"case", "list", "--help"}, &out, &errOut))
	assert.Contains(t, out.String(), "Exit codes:")
	assert.Regexp(t, `2\s+the command line is wrong`, out.String())
}
