package zendesk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalizeURL(t *testing.T) {
	ok := []struct{ in, want string }{
		{"https://acme.zendesk.com", "https://acme.zendesk.com"},
		{"https://acme.zendesk.com/", "https://acme.zendesk.com"},
		{"https://acme.zendesk.com/api/v2", "https://acme.zendesk.com"},
		{"https://acme.zendesk.com/api/v2/", "https://acme.zendesk.com"},
		{"acme.zendesk.com", "https://acme.zendesk.com"},
		{"acme.zendesk.com/", "https://acme.zendesk.com"},
		{"  HTTPS://ACME.Zendesk.com/API/V2  ", "https://acme.zendesk.com"},
		{"https://acme.zendesk.com:8443", "https://acme.zendesk.com:8443"},
		{"http://127.0.0.1:8090", "http://127.0.0.1:8090"},
		{"http://localhost:8090/api/v2/", "http://localhost:8090"},
		{"http://[::1]:8090", "http://[::1]:8090"},
	}
	for _, tc := range ok {
		got, err := NormalizeURL(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}

	bad := []struct{ in, mentions string }{
		{"", "empty"},
		{"   ", "empty"},
		{"http://acme.zendesk.com", "loopback"},
		{"http://10.0.0.1:8080", "loopback"},
		{"ftp://acme.zendesk.com", "scheme"},
		{"https://acme.zendesk.com/agent/tickets", "path"},
		{"https://acme.zendesk.com/api/v1", "path"},
		{"https://acme.zendesk.com?x=1", "query"},
		{"https://acme.zendesk.com#frag", "fragment"},
		{"https://user:pa55word@acme.zendesk.com", "user name"},
		{"https://", "host"},
		{"https:///api/v2", "host"},
	}
	for _, tc := range bad {
		_, err := NormalizeURL(tc.in)
		require.Error(t, err, tc.in)
		assert.Contains(t, err.Error(), tc.mentions, tc.in)
		assert.NotContains(t, err.Error(), "pa55word", "a password typed into the URL must not be echoed")
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{URL: "https://acme.zendesk.com"})
	require.ErrorContains(t, err, "credentials")
	_, err = New(Config{URL: "http://acme.zendesk.com", Email: "a@b.c", Token: "t"})
	require.ErrorContains(t, err, "loopback")

	c, err := New(Config{URL: "acme.zendesk.com/api/v2/", OAuthToken: "tok"})
	require.NoError(t, err)
	assert.Equal(t, "https://acme.zendesk.com", c.BaseURL())
	assert.Equal(t, defaultTimeout, c.timeout)
	assert.Equal(t, defaultMaxRetries, c.maxRetries)

	c, err = New(Config{URL: "acme.zendesk.com", Email: "a@b.c", Token: "t", MaxRetries: -1})
	require.NoError(t, err)
	assert.Equal(t, 0, c.maxRetries)
}

func TestEndpointTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v2/tickets/123.json":                                        "/api/v2/tickets/:id.json",
		"/api/v2/tickets/123/comments.json":                               "/api/v2/tickets/:id/comments.json",
		"/api/v2/users/show_many.json":                                    "/api/v2/users/show_many.json",
		"https://acme.zendesk.com/api/v2/incremental/tickets/cursor.json": "/api/v2/incremental/tickets/cursor.json",
	} {
		if got := EndpointTemplate(in); got != want {
			t.Errorf("EndpointTemplate(%q) = %q, want %q", in, got, want)
		}
	}
}
