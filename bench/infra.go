package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/lib/pq" // the "postgres" driver
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/zendesk-sync/zendesk-sync/workflows"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// cleanups runs what the benchmark started, in reverse order, once.
type cleanups struct {
	mu  sync.Mutex
	fns []func()
}

func (c *cleanups) add(f func()) {
	c.mu.Lock()
	c.fns = append(c.fns, f)
	c.mu.Unlock()
}

func (c *cleanups) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// proc is a child process in its own process group, killed with the benchmark if it dies.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func startProc(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
	}
}

// tail returns the last lines of the process log, for error messages.
func (p *proc) tail(lines int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// peakRSSMB reads VmHWM (peak resident set) of a live process.
func peakRSSMB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			kb, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("VmHWM not found")
}

// ---- PostgreSQL ----

func adminURL() string {
	if v := os.Getenv("TEST_DATABASE_URL"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

type databases struct {
	admin *sql.DB
	cl    *cleanups
}

// create makes an empty zs_bench_<random> database, dropped at cleanup.
func (d *databases) create(ctx context.Context) (string, error) {
	name := "zs_bench_" + randHex(6)
	if _, err := d.admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	d.cl.add(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := d.admin.ExecContext(c, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop database %s: %v\n", name, err)
		}
	})
	u, err := url.Parse(adminURL())
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// ---- Temporal ----

type temporalServer struct {
	hostPort  string
	namespace string // "default" on the dev server; temporaltest makes a random one
	kind      string // "dev server (temporal CLI ...)" or "temporaltest (in-process)"
}

func temporalCLI() string {
	if p, err := exec.LookPath("temporal"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "temporal")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

func startTemporal(ctx context.Context, tmp string, cl *cleanups) (*temporalServer, error) {
	if bin := temporalCLI(); bin != "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p, err := startProc("temporal", filepath.Join(tmp, "temporal.log"), nil, bin, "server", "start-dev",
			"--ip", "127.0.0.1", "--port", strconv.Itoa(port), "--headless", "--log-level", "error",
			"--search-attribute", workflows.IntegrationKey.GetName()+"=Keyword",
			"--search-attribute", workflows.PhaseKey.GetName()+"=Keyword")
		if err != nil {
			return nil, err
		}
		cl.add(func() { p.stop(10 * time.Second) })
		hp := fmt.Sprintf("127.0.0.1:%d", port)
		deadline := time.Now().Add(90 * time.Second)
		for {
			if p.exited() {
				return nil, fmt.Errorf("temporal dev server exited: %v\n%s", p.err, p.tail(20))
			}
			c, err := client.DialContext(ctx, client.Options{HostPort: hp, Logger: quietLogger{}})
			if err == nil {
				_, herr := c.CheckHealth(ctx, &client.CheckHealthRequest{})
				c.Close()
				if herr == nil {
					break
				}
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("temporal dev server not ready on %s: %v\n%s", hp, err, p.tail(20))
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(300 * time.Millisecond):
			}
		}
		version := ""
		if out, err := exec.Command(bin, "--version").Output(); err == nil {
			version = strings.TrimSpace(string(out))
		}
		return &temporalServer{hostPort: hp, namespace: "default", kind: "dev server: " + version}, nil
	}
	ts := temporaltest.NewServer(temporaltest.WithBaseClientOptions(client.Options{Logger: quietLogger{}}))
	cl.add(ts.Stop)
	_, err := ts.GetDefaultClient().OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: ts.GetDefaultNamespace(),
		SearchAttributes: map[string]enumspb.IndexedValueType{
			workflows.IntegrationKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			workflows.PhaseKey.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("register search attributes: %w", err)
	}
	return &temporalServer{hostPort: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(),
		kind: "temporaltest (in-process)"}, nil
}

// quietLogger drops the Temporal SDK's log lines from the benchmark's output.
type quietLogger struct{}

func (quietLogger) Debug(string, ...interface{}) {}
func (quietLogger) Info(string, ...interface{})  {}
func (quietLogger) Warn(string, ...interface{})  {}
func (quietLogger) Error(string, ...interface{}) {}

// ---- simulator ----

// startSim serves a simulator over real HTTP on a free loopback port.
func startSim(o sim.Options, cl *cleanups) (*sim.Server, string, error) {
	if o.Email == "" {
		o.Email, o.Token = simEmail, simToken
	}
	s := sim.New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	s.SetBaseURL(base)
	cl.add(func() { _ = srv.Close() })
	return s, base, nil
}

// ---- worker ----

func buildWorker(ctx context.Context, repo, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./worker")
	cmd.Dir = repo
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./worker: %v\n%s", err, b)
	}
	return nil
}

// startWorker runs the worker binary against one database and task queue and waits until it polls.
func startWorker(ctx context.Context, bin, logPath string, env map[string]string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	metrics := fmt.Sprintf("127.0.0.1:%d", port)
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	kv = append(kv, "METRICS_ADDR="+metrics)
	p, err := startProc("worker", logPath, kv, bin)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if p.exited() {
			return nil, fmt.Errorf("worker exited: %v\n%s", p.err, p.tail(20))
		}
		if b, err := os.ReadFile(logPath); err == nil && strings.Contains(string(b), "worker started") {
			// Run starts the pollers right after this line; give them a moment.
			time.Sleep(200 * time.Millisecond)
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop(5 * time.Second)
			return nil, fmt.Errorf("worker not ready after 60s:\n%s", p.tail(20))
		}
		select {
		case <-ctx.Done():
			p.stop(5 * time.Second)
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// repoRoot finds the module root (the directory holding go.mod) from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/zendesk-sync/zendesk-sync") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the benchmark from inside the zendesk-sync module (go run ./bench)")
		}
		dir = parent
	}
}
