package channelmonitor

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// recordHandler keeps every log record.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}

// sharedHandler routes every derived handler's records into one list.
type sharedHandler struct {
	root  *recordHandler
	attrs []slog.Attr
}

func (h sharedHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h sharedHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(h.attrs...)
	return h.root.Handle(ctx, r)
}
func (h sharedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sharedHandler{root: h.root, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}
func (h sharedHandler) WithGroup(string) slog.Handler { return h }

// TestMonitorLogsWithChannel: a monitor logs through the ChainMonitor's logger, tagged with its channel,
// what it sees on chain — here a spend of its funding output — and an update it refuses is logged with
// the reason.
func TestMonitorLogsWithChannel(t *testing.T) {
	root := &recordHandler{}
	cm := NewChainMonitor(nil, nopBroadcaster{}, slog.New(sharedHandler{root: root}), fixedFee(253), nopPersister{})
	m, _ := testMonitor(t)
	require.NoError(t, cm.LoadMonitor(m))
	spend := wire.NewMsgTx(2)
	spend.AddTxIn(&wire.TxIn{PreviousOutPoint: m.FundingTxo()})
	spend.AddTxOut(&wire.TxOut{Value: 990_000, PkScript: []byte{0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}})
	cm.BlockConnected(&wire.MsgBlock{Transactions: []*wire.MsgTx{spend}}, 500)
	require.Equal(t, ChannelMonitorUpdateStatus(UnrecoverableError), cm.UpdateChannel(m.FundingTxo(), &ChannelMonitorUpdate{UpdateID: 9}))

	root.mu.Lock()
	defer root.mu.Unlock()
	found := map[string]bool{}
	for _, r := range root.records {
		channelTagged := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "channel" && a.Value.String() == m.params.ChannelID.String() {
				channelTagged = true
			}
			if a.Key == "err" && r.Message == "monitor refused update" {
				found["refusal reason"] = true
			}
			return true
		})
		if r.Message == "funding output spent" && channelTagged {
			found["spend"] = true
		}
	}
	require.True(t, found["spend"], "the funding spend is logged with the channel: %v", root.records)
	require.True(t, found["refusal reason"], "a refused update is logged with its reason")
}
