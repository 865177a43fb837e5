package zendesk

import (
	"strings"
	"time"
)

// Hooks let the client's user count what it does (the worker's metrics). Each may be nil; they are called on the
// request's goroutine and must not block.
type Hooks struct {
	// Response is called once per HTTP exchange: the method, the endpoint as a template with ids replaced by
	// ":id" (so it makes a bounded label), and the status (0: no response, a network error).
	Response func(method, endpoint string, status int)
	// Budget is called with what a response said about a rate-limit bucket (see SharedLimiter): its key, the
	// window's limit and what is left of it.
	Budget func(key string, limit, remaining int)
	// Wait is called when the shared budget makes a request wait d.
	Wait func(d time.Duration)
}

func (h Hooks) response(r *request, status int) {
	if h.Response != nil {
		h.Response(r.method, EndpointTemplate(r.endpoint()), status)
	}
}

// EndpointTemplate turns a request path (or a server-given next-page URL) into its template:
// "/api/v2/tickets/123.json" → "/api/v2/tickets/:id.json", "https://x.zendesk.com/api/v2/incremental/tickets/cursor.json"
// → "/api/v2/incremental/tickets/cursor.json".
func EndpointTemplate(path string) string {
	if i := strings.Index(path, "://"); i >= 0 {
		if j := strings.IndexByte(path[i+3:], '/'); j >= 0 {
			path = path[i+3+j:]
		} else {
			path = "/"
		}
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		base, ext, _ := strings.Cut(s, ".")
		if base != "" && strings.Trim(base, "0123456789") == "" {
			segs[i] = ":id"
			if ext != "" {
				segs[i] += "." + ext
			}
		}
	}
	return strings.Join(segs, "/")
}
