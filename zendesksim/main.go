// Command zendesksim serves the Zendesk API simulator (see README.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

func main() {
	var o sim.Options
	addr := flag.String("addr", "127.0.0.1:8090", "listen address (port 0 picks a free port)")
	flag.Int64Var(&o.Seed, "seed", 1, "dataset seed; the same seed gives the same data")
	flag.IntVar(&o.Tickets, "tickets", 2000, "number of generated tickets")
	flag.IntVar(&o.Users, "users", 0, "number of generated users (default tickets/5, min 25)")
	flag.IntVar(&o.CommentsPerTicket, "comments", 3, "average comments per ticket, the description included")
	flag.StringVar(&o.Email, "email", "agent@example.com", "API email accepted as {email}/token")
	flag.StringVar(&o.Token, "token", "secret", "API token (also accepted as a Bearer token)")
	flag.IntVar(&o.MaxPerPage, "per-page-max", 1000, "largest per_page the cursor export honours")
	flag.IntVar(&o.RateLimit, "rate-limit", 0, "requests per rate window for the whole account (0 = unlimited)")
	flag.IntVar(&o.ExportRateLimit, "export-rate-limit", 0, "requests per rate window for incremental exports (0 = unlimited)")
	flag.DurationVar(&o.RateWindow, "rate-window", time.Minute, "length of a rate-limit \"minute\"")
	flag.IntVar(&o.TicketUpdateLimit, "ticket-update-limit", 30, "API updates per ticket per 10 rate windows (-1 = unlimited)")
	flag.Float64Var(&o.FailRate, "fail-rate", 0, "probability of a 500/503 answer")
	flag.DurationVar(&o.Slow, "slow", 0, "delay added to every API response")
	flag.Float64Var(&o.DropRate, "drop-rate", 0, "probability of closing the connection without an answer")
	flag.DurationVar(&o.ExportLag, "export-lag", 0, "changes younger than this are not yet visible in exports")
	flag.IntVar(&o.BadTickets, "bad-tickets", 0, "number of tickets rendered with an invalid field")
	flag.StringVar(&o.OAuth.ClientID, "oauth-client-id", "zendesk-sync", "identifier of the simulated OAuth client")
	flag.StringVar(&o.OAuth.ClientSecret, "oauth-client-secret", "sim-oauth-secret", "secret of the simulated OAuth client")
	flag.DurationVar(&o.OAuth.AccessLifetime, "oauth-access-lifetime", 0,
		"lifetime of every OAuth access token (0: as the client asks with expires_in, as Zendesk does)")
	flag.DurationVar(&o.OAuth.RefreshLifetime, "oauth-refresh-lifetime", 0,
		"lifetime of every OAuth refresh token (0: as asked with refresh_token_expires_in, else 30 days)")
	flag.Parse()

	start := time.Now()
	s := sim.New(o)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("zendesksim: %v", err)
	}
	base := "http://" + ln.Addr().String()
	s.SetBaseURL(base)
	// The URL must be the first stdout line: scripts and tests read it.
	fmt.Println(base)
	st := s.Stats()
	log.Printf("zendesksim: %d tickets, %d users, %d comments ready in %s", st.Tickets, st.Users, st.Comments, time.Since(start).Round(time.Millisecond))

	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("zendesksim: %v", err)
	}
}
