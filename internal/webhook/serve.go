package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve serves the receiver on ln until the returned function shuts it down (waiting briefly for calls in
// flight). The timeouts are short: a call is small and answered within callTimeout.
func (r *Receiver) Serve(ln net.Listener) (stop func()) {
	srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log().Error("webhook receiver stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
	r.log().Info("webhook receiver listening", "url", "http://"+ln.Addr().String()+PathPrefix+"<integration id>")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}
}
