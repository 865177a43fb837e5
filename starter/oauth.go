package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/store"
)

// EnvOAuthClientSecret names the variable holding the OAuth client secret for `integration create --auth oauth`.
// A secret is never a flag value: flags land in shell history and process listings.
const EnvOAuthClientSecret = "ZENDESK_OAUTH_CLIENT_SECRET"

// oauthFlags are create's OAuth flags.
type oauthFlags struct {
	auth, clientID, secretFile string
}

func (o *oauthFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.auth, "auth", "token", "how the sync authenticates: token (API token, --token) or oauth "+
		"(then run `starter integration connect NAME`)")
	fs.StringVar(&o.clientID, "oauth-client-id", "", "with --auth oauth: the OAuth client's identifier in Zendesk")
	fs.StringVar(&o.secretFile, "oauth-client-secret-file", "", "with --auth oauth: file holding the OAuth client "+
		"secret (else the variable "+EnvOAuthClientSecret+" is read)")
}

// apply puts the OAuth settings into spec, reading the client secret from the file or the environment.
func (o *oauthFlags) apply(spec *control.IntegrationSpec) error {
	spec.Auth, spec.OAuthClientID = o.auth, o.clientID
	if o.auth != store.AuthOAuth {
		if o.secretFile != "" {
			return usagef("--oauth-client-secret-file needs --auth oauth")
		}
		return nil
	}
	if o.secretFile != "" {
		b, err := os.ReadFile(o.secretFile)
		if err != nil {
			return fmt.Errorf("--oauth-client-secret-file: %w", err)
		}
		if spec.OAuthClientSecret = strings.TrimSpace(string(b)); spec.OAuthClientSecret == "" {
			return usagef("--oauth-client-secret-file %s is empty", o.secretFile)
		}
		return nil
	}
	spec.OAuthClientSecret = strings.TrimSpace(os.Getenv(EnvOAuthClientSecret))
	return nil
}

// connectTimeout bounds the wait for the browser's redirect.
const connectTimeout = 10 * time.Minute

func (a *app) integrationConnectCmd() *cobra.Command {
	var code, listen string
	cmd := &cobra.Command{
		Use:   "connect NAME [--code C]",
		Short: "Authorize an OAuth integration in Zendesk and store its tokens (sealed)",
		Long: "Authorize an OAuth integration in Zendesk and store its tokens (sealed).\n\n" +
			"For an integration created with --auth oauth: the access and refresh tokens are sealed with the secret\n" +
			"key. It prints Zendesk's authorization URL and waits (up to " + connectTimeout.String() + ")\n" +
			"for the browser's redirect on a loopback address. On a machine without a browser, open the URL elsewhere:\n" +
			"the browser lands on an address that does not load; copy the code parameter from it (or the whole\n" +
			"address) and run `starter integration connect NAME --code CODE` within a minute or two.\n" +
			"Run it again whenever Zendesk refused the grant (revoked, expired): syncing resumes by itself.",
		Example: "  starter integration connect acme\n" +
			"  starter integration connect acme --listen 127.0.0.1:8765   # a redirect URL registered in Zendesk\n" +
			"  starter integration connect acme --code 'http://127.0.0.1:8765/oauth/callback?code=...&state=...'",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("code") {
				c, err := codeOf(code)
				if err != nil {
					return err
				}
				if err := a.control().ConnectFinish(cmd.Context(), args[0], c); err != nil {
					return err
				}
				return a.connected(args[0])
			}
			return a.connectInteractive(cmd.Context(), args[0], listen)
		},
	}
	cmd.Flags().StringVar(&code, "code", "", "the authorization code (or the whole address the browser was redirected to)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "loopback address that receives the redirect "+
		"(port 0: any free port); its http://ADDR/oauth/callback must be a redirect URL of the OAuth client")
	return needs(cmd, needStore, needKey, needTemporal)
}

// codeOf takes a bare code or the address the browser was sent to.
func codeOf(v string) (string, error) {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "://") {
		if v == "" {
			return "", usagef("--code must not be empty")
		}
		return v, nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", usagef("--code: not a code nor an address: %v", err)
	}
	q := u.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("zendesk refused the authorization: %s %s", e, q.Get("error_description"))
	}
	if q.Get("code") == "" {
		return "", usagef("--code: the address has no code parameter")
	}
	return q.Get("code"), nil
}

func (a *app) connected(name string) error {
	fmt.Fprintf(a.out, "connected: the tokens of %s are stored (sealed); an active integration resumes syncing by itself\n", name)
	return nil
}

// connectInteractive listens on a loopback address, prints the authorization URL and exchanges the code the
// browser brings back.
func (a *app) connectInteractive(ctx context.Context, name, listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
		return usagef("--listen %q must be a loopback address with a port, e.g. 127.0.0.1:0", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", listen, err)
	}
	defer ln.Close()
	redirect := "http://" + ln.Addr().String() + "/oauth/callback"
	authURL, state, err := a.control().ConnectBegin(ctx, name, redirect)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "Open this address in a browser signed in to Zendesk as an admin, and allow access:\n\n  %s\n\n", authURL)
	fmt.Fprintf(a.out, "Waiting for Zendesk's redirect to %s (Ctrl-C to stop).\n", redirect)
	fmt.Fprintf(a.out, "No browser here? Open it elsewhere, then run `starter integration connect %s --code CODE` "+
		"with the code from the address the browser lands on.\n", name)

	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	done := make(chan error, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: a.callback(ctx, name, state, done)}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			return err
		}
		return a.connected(name)
	case <-ctx.Done():
		return fmt.Errorf("connect %q: no redirect from Zendesk: %w", name, ctx.Err())
	}
}

// callback serves /oauth/callback: it checks state (a page from elsewhere must not plant its own code), exchanges
// the code and tells the browser how it went.
func (a *app) callback(ctx context.Context, name, state string, done chan<- error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var err error
		switch {
		case q.Get("state") != state:
			http.Error(w, "state does not match this authorization; start again with `starter integration connect`",
				http.StatusBadRequest)
			return // not ours: keep waiting for the real redirect
		case q.Get("error") != "":
			err = fmt.Errorf("zendesk refused the authorization: %s %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			err = errors.New("zendesk's redirect carries no code")
		default:
			err = a.control().ConnectFinish(ctx, name, q.Get("code"))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<p>Connecting %s failed: %s</p>", html.EscapeString(name), html.EscapeString(err.Error()))
		} else {
			fmt.Fprintf(w, "<p>%s is connected. You may close this window.</p>", html.EscapeString(name))
		}
		select {
		case done <- err:
		default:
		}
	})
	return mux
}
