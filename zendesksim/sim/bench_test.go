package sim

import (
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	benchOnce sync.Once
	benchSrv  *Server
)

func benchServer() *Server {
	benchOnce.Do(func() {
		benchSrv = New(Options{Seed: 1, Tickets: 100000, DisableRequestLog: true})
	})
	return benchSrv
}

func benchGet(b *testing.B, s *Server, url string) {
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer secret")
		s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		n += int64(rec.Body.Len())
	}
	b.SetBytes(n / int64(b.N))
}

// BenchmarkExportPage renders one 1000-ticket cursor-export page with users
// side-loaded, from a 100k-ticket dataset.
func BenchmarkExportPage(b *testing.B) {
	benchGet(b, benchServer(), "/api/v2/incremental/tickets/cursor.json?start_time=1704100000&include=users")
}

// BenchmarkTicketEventsPage renders one 1000-event page with comments.
func BenchmarkTicketEventsPage(b *testing.B) {
	benchGet(b, benchServer(), "/api/v2/incremental/ticket_events.json?start_time=1704100000&include=comment_events")
}

// TestMillionTicketsMemory measures the dataset footprint; it is opt-in
// (ZENDESKSIM_BIG=1) because it needs about a gigabyte and several seconds.
func TestMillionTicketsMemory(t *testing.T) {
	if os.Getenv("ZENDESKSIM_BIG") == "" {
		t.Skip("set ZENDESKSIM_BIG=1 to build a 1,000,000-ticket dataset")
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	s := New(Options{Seed: 1, Tickets: 1000000, DisableRequestLog: true})
	built := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := s.Stats()
	t.Logf("1M tickets, %d users, %d comments: built in %s, live heap %.0f MB",
		st.Users, st.Comments, built.Round(time.Millisecond), float64(after.HeapAlloc-before.HeapAlloc)/(1<<20))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v2/incremental/tickets/cursor.json?start_time=0&include=users", nil)
	req.Header.Set("Authorization", "Bearer secret")
	start = time.Now()
	s.ServeHTTP(rec, req)
	t.Logf("first export page: %d bytes in %s", rec.Body.Len(), time.Since(start))
	runtime.KeepAlive(s)
}
