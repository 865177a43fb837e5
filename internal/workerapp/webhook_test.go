package workerapp

import (
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With several workers on one host the first binds the receiver's address and the others run without it; an
// address that cannot be bound for another reason is an error.
func TestWebhookListenerSharesTheAddressAmongWorkers(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	first, err := webhookListener("127.0.0.1:0", nil, logger)
	require.NoError(t, err)
	require.NotNil(t, first)
	defer first.Close()
	second, err := webhookListener(first.Addr().String(), nil, logger)
	require.NoError(t, err)
	assert.Nil(t, second, "the address is taken: no receiver in this worker")
	for _, off := range []string{"", "off"} {
		ln, err := webhookListener(off, nil, logger)
		assert.NoError(t, err)
		assert.Nil(t, ln)
	}
	_, err = webhookListener("not-an-address", nil, logger)
	assert.ErrorContains(t, err, "WEBHOOK_ADDR")
	given, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer given.Close()
	ln, err := webhookListener("127.0.0.1:1", given, logger)
	require.NoError(t, err)
	assert.Equal(t, given, ln, "a given listener wins")
}
