// Package config holds the settings of the worker and the starter, defined once: each has a flag, an environment
// variable and a default. A flag wins over the environment, which wins over the defaults of DESIGN.md.
//
// Help texts name where a value comes from ("default: $DATABASE_URL, else postgres://..."), never the value taken
// from the environment: DATABASE_URL may hold a password, and `--help` output ends up in terminals, CI logs and bug
// reports. That is why the flags are registered with an empty default and the environment is only read by
// Resolve, after the command line was parsed.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// Config is what both binaries need to reach PostgreSQL and Temporal.
type Config struct {
	DatabaseURL       string
	TemporalAddress   string
	TemporalNamespace string
	TaskQueue         string
}

const (
	DefaultDatabaseURL = "postgres://127.0.0.1:5432/zendesk_sync?sslmode=disable"
	DefaultTemporal    = "127.0.0.1:7233"
	DefaultNamespace   = "default"
	DefaultTaskQueue   = contract.TaskQueue
)

// Setting is one option: a flag, the environment variable read when the flag is not given, and the default
// used when neither is.
type Setting struct {
	Flag    string // without dashes
	Env     string // "" when only the flag sets it
	Default string
	// Usage is the help text without the default; a word in back quotes names the value (e.g. "`URL`").
	Usage string
	// Source, when set, replaces the generated "$ENV, else DEFAULT" in the help (e.g. "on when $LOG_FORMAT is
	// json").
	Source string
}

// The settings of both binaries. Keep names and defaults: they are DESIGN.md's contract.
var (
	DatabaseURL = Setting{Flag: "database-url", Env: "DATABASE_URL", Default: DefaultDatabaseURL,
		Usage: "PostgreSQL `URL`"}
	TemporalAddress = Setting{Flag: "temporal-address", Env: "TEMPORAL_ADDRESS", Default: DefaultTemporal,
		Usage: "Temporal frontend `host:port`"}
	TemporalNamespace = Setting{Flag: "namespace", Env: "TEMPORAL_NAMESPACE", Default: DefaultNamespace,
		Usage: "Temporal `namespace`"}
	TaskQueue = Setting{Flag: "task-queue", Env: "TASK_QUEUE", Default: DefaultTaskQueue,
		Usage: "Temporal task `queue`"}
)

// SecretKeyHelp describes the variables that hold the key sealing API tokens (read by package secrets, never
// taken as flags so the key does not show in the process list). Both binaries print it in their help.
const SecretKeyHelp = `Secret key (seals the Zendesk API tokens at rest; never shown):
  ZENDESK_SYNC_SECRET_KEY       the key: 64 hex characters (32 bytes), e.g. ` + "`openssl rand -hex 32`" + `
  ZENDESK_SYNC_SECRET_KEY_FILE  or a file holding it (e.g. a container secret). When both are set they must
                                hold the same key; a key file that cannot be read or holds no valid key is an
                                error, whatever the variable says.`

// Help is the text of the flag's usage: what it is, then where its default comes from.
func (s Setting) Help() string {
	switch {
	case s.Source != "":
		return fmt.Sprintf("%s (default: %s)", s.Usage, s.Source)
	case s.Env != "" && s.Default != "":
		return fmt.Sprintf("%s (default: $%s, else %s)", s.Usage, s.Env, s.Default)
	case s.Env != "":
		return fmt.Sprintf("%s (default: $%s)", s.Usage, s.Env)
	case s.Default != "":
		return fmt.Sprintf("%s (default: %s)", s.Usage, s.Default)
	}
	return s.Usage
}

// Set is a group of settings bound to destinations. Register settings, bind the set to a flag set, parse the
// command line, then call Resolve to fill in what the command line did not give.
type Set struct {
	vals []*value
}

// value is a flag.Value and a pflag.Value. Its String is what the command line gave, "" otherwise, so that flag
// packages, which print a non-empty initial String as the default, never print anything taken from the
// environment.
type value struct {
	s      Setting
	raw    string
	set    bool
	isBool bool
	// parse stores a raw value in the destination; parseEnv (when not nil) reads the environment's form.
	parse, parseEnv func(string) error
}

func (v *value) String() string {
	if v == nil || !v.set {
		return ""
	}
	return v.raw
}

func (v *value) Set(raw string) error {
	if err := v.parse(raw); err != nil {
		return err
	}
	v.raw, v.set = raw, true
	return nil
}

// Type is pflag's name of the value's kind.
func (v *value) Type() string {
	if v.isBool {
		return "bool"
	}
	return "string"
}

// IsBoolFlag lets the standard flag package accept `-flag` without a value.
func (v *value) IsBoolFlag() bool { return v.isBool }

func (c *Set) add(v *value) { c.vals = append(c.vals, v) }

// String registers a text setting.
func (c *Set) String(dst *string, s Setting) {
	c.add(&value{s: s, parse: func(raw string) error { *dst = raw; return nil }})
}

// Duration registers a duration setting ("90s", "1h30m", "720h").
func (c *Set) Duration(dst *time.Duration, s Setting) {
	c.add(&value{s: s, parse: func(raw string) error {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 30s, 1h, 720h): %q", raw)
		}
		if d < 0 {
			return fmt.Errorf("must not be negative: %q", raw)
		}
		*dst = d
		return nil
	}})
}

// Int registers a whole-number setting.
func (c *Set) Int(dst *int, s Setting) {
	c.add(&value{s: s, parse: func(raw string) error {
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", raw)
		}
		*dst = n
		return nil
	}})
}

// Bool registers an on/off flag; envTrue decides from the environment variable's text (e.g. LOG_FORMAT=json).
func (c *Set) Bool(dst *bool, s Setting, envTrue func(string) bool) {
	c.add(&value{s: s, isBool: true,
		parse: func(raw string) error {
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return fmt.Errorf("not true or false: %q", raw)
			}
			*dst = b
			return nil
		},
		parseEnv: func(raw string) error { *dst = envTrue(raw); return nil },
	})
}

// BindConfig registers the connection settings both binaries share.
func (c *Set) BindConfig(cfg *Config) {
	c.String(&cfg.DatabaseURL, DatabaseURL)
	c.String(&cfg.TemporalAddress, TemporalAddress)
	c.String(&cfg.TemporalNamespace, TemporalNamespace)
	c.String(&cfg.TaskQueue, TaskQueue)
}

// BindFlags adds the settings to a standard-library flag set (the worker).
func (c *Set) BindFlags(fs *flag.FlagSet) {
	for _, v := range c.vals {
		fs.Var(v, v.s.Flag, v.s.Help())
	}
}

// BindPFlags adds the settings to a pflag set (the starter's cobra commands).
func (c *Set) BindPFlags(fs *pflag.FlagSet) {
	for _, v := range c.vals {
		f := fs.VarPF(v, v.s.Flag, "", v.s.Help())
		if v.isBool {
			f.NoOptDefVal = "true"
			f.DefValue = "false" // what pflag takes for "no default to print" on a bool
		}
	}
}

// Resolve gives every setting the command line left out its value from the environment, else its default. A
// malformed value names its variable (or its default) and the problem; it is called once, after parsing.
func (c *Set) Resolve() error {
	var errs []error
	for _, v := range c.vals {
		if v.set {
			continue
		}
		if env := os.Getenv(v.s.Env); v.s.Env != "" && env != "" {
			parse := v.parse
			if v.parseEnv != nil {
				parse = v.parseEnv
			}
			if err := parse(env); err != nil {
				errs = append(errs, fmt.Errorf("environment variable %s: %w", v.s.Env, err))
			}
			continue
		}
		if err := v.parse(v.s.Default); err != nil {
			errs = append(errs, fmt.Errorf("default of -%s: %w", v.s.Flag, err))
		}
	}
	return errors.Join(errs...)
}
