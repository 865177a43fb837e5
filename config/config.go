// Package config holds the settings shared by the worker and the starter. Flags win over the environment, which
// wins over the defaults of DESIGN.md.
package config

import (
	"os"

	"github.com/spf13/pflag"
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
	DefaultTaskQueue   = "zendesk-sync"
)

// FromEnv reads the environment, falling back to the defaults.
func FromEnv() Config {
	return Config{
		DatabaseURL:       env("DATABASE_URL", DefaultDatabaseURL),
		TemporalAddress:   env("TEMPORAL_ADDRESS", DefaultTemporal),
		TemporalNamespace: env("TEMPORAL_NAMESPACE", DefaultNamespace),
		TaskQueue:         env("TASK_QUEUE", DefaultTaskQueue),
	}
}

// BindFlags registers flags whose defaults come from the environment, so a flag overrides it.
func (c *Config) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL URL (env DATABASE_URL)")
	fs.StringVar(&c.TemporalAddress, "temporal-address", c.TemporalAddress, "Temporal frontend host:port (env TEMPORAL_ADDRESS)")
	fs.StringVar(&c.TemporalNamespace, "namespace", c.TemporalNamespace, "Temporal namespace (env TEMPORAL_NAMESPACE)")
	fs.StringVar(&c.TaskQueue, "task-queue", c.TaskQueue, "Temporal task queue (env TASK_QUEUE)")
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
