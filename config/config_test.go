package config

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// A flag wins over the environment, which wins over the default; help texts name the variable, never its value.
func TestFlagThenEnvironmentThenDefaultAndHelpShowsNoValue(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://u:SuperSecret123@db/x")
	t.Setenv("TEMPORAL_ADDRESS", "")
	t.Setenv("TEST_TIMEOUT", "90s")

	var cfg Config
	var timeout time.Duration
	var s Set
	s.BindConfig(&cfg)
	s.Duration(&timeout, Setting{Flag: "timeout", Env: "TEST_TIMEOUT", Default: "5s", Usage: "a `duration`"})
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var help bytes.Buffer
	fs.SetOutput(&help)
	s.BindFlags(fs)
	if err := fs.Parse([]string{"-task-queue", "q-flag"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Resolve(); err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL != "postgres://u:SuperSecret123@db/x" || cfg.TemporalAddress != DefaultTemporal ||
		cfg.TaskQueue != "q-flag" || cfg.TemporalNamespace != DefaultNamespace || timeout != 90*time.Second {
		t.Fatalf("resolved %+v, timeout %s", cfg, timeout)
	}
	fs.PrintDefaults()
	ps := pflag.NewFlagSet("p", pflag.ContinueOnError)
	s.BindPFlags(ps)
	text := help.String() + ps.FlagUsages()
	if strings.Contains(text, "SuperSecret123") || strings.Contains(text, "90s") {
		t.Fatalf("help shows a value from the environment:\n%s", text)
	}
	for _, want := range []string{"(default: $DATABASE_URL, else " + DefaultDatabaseURL + ")", "(default: $TEST_TIMEOUT, else 5s)"} {
		if !strings.Contains(help.String(), want) || !strings.Contains(ps.FlagUsages(), want) {
			t.Fatalf("help lacks %q:\n%s", want, text)
		}
	}
}

func TestMalformedEnvironmentValueNamesTheVariable(t *testing.T) {
	t.Setenv("TEST_TIMEOUT", "soon")
	var d time.Duration
	var s Set
	s.Duration(&d, Setting{Flag: "timeout", Env: "TEST_TIMEOUT", Default: "5s"})
	err := s.Resolve()
	if err == nil || !strings.Contains(err.Error(), "TEST_TIMEOUT") || !strings.Contains(err.Error(), `"soon"`) {
		t.Fatalf("Resolve: %v", err)
	}
	// The flag, when given, wins: the variable is not even read.
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	s.BindFlags(fs)
	if err := fs.Parse([]string{"-timeout", "2s"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Resolve(); err != nil || d != 2*time.Second {
		t.Fatalf("flag: %v, %s", err, d)
	}
}

func TestBoolSettingFromFlagOrEnvironment(t *testing.T) {
	for _, c := range []struct {
		env  string
		args []string
		want bool
	}{{"", nil, false}, {"json", nil, true}, {"text", nil, false}, {"", []string{"-log-json"}, true},
		{"json", []string{"-log-json=false"}, false}} {
		t.Setenv("LOG_FORMAT", c.env)
		var b bool
		var s Set
		s.Bool(&b, Setting{Flag: "log-json", Env: "LOG_FORMAT", Default: "false"}, func(v string) bool { return v == "json" })
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		s.BindFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if err := s.Resolve(); err != nil || b != c.want {
			t.Errorf("LOG_FORMAT=%q %v: %v, %v", c.env, c.args, b, err)
		}
	}
}
