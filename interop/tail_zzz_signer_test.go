//go:build interop

package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Test22SignerRestart (keyless runs, LNKIT_INTEROP_SIGNER=1): lnd pays the keyless lnkit node invoice
// after invoice while lnkit's signer is stopped (SIGTERM) and started again, twice. The node holds no
// seed; payments meeting the stopped signer wait (lnkit's messages are held, lnd's commitment kept)
// and complete when it is back: every invoice is paid once with its amount and both sides' balances
// agree to the msat.
func Test22SignerRestart(t *testing.T) {
	lk := needNode(t)
	if !keyless() {
		t.Skip("the keyless pass runs it (LNKIT_INTEROP_SIGNER=1, .ci/run)")
	}
	_, err := os.Stat(filepath.Join(lk.dir, "seed"))
	require.True(t, os.IsNotExist(err), "a keyless node has no seed")
	alice := nw.alice
	steps := newSteps(t)
	lk.connect(t, alice)
	chanTxid := alice.openChannel(t, lk.ID(), 1_000_000, 0, true)
	confirmChannelsWith(t, lk, alice, chanTxid)
	before := lk.channel(t, chanTxid).LocalBalanceMsat
	steps.done("alice's channel to the keyless node")

	const n, workers = 30, 3
	amts := varied(n, 22)
	invs := make([]*nodeapi.InvoiceResult, n)
	for i := range invs {
		invs[i] = lk.invoice(t, amts[i], fmt.Sprintf("signer restart %d", i))
	}
	streamCtx, stopStream := context.WithTimeout(context.Background(), 4*time.Minute)
	defer stopStream()
	succeeded, streamErr := payInvoicesFromLnd(streamCtx, alice, invs, workers)
	for round := 1; round <= 2; round++ {
		k := succeeded.Load()
		waitFor(t, 2*time.Minute, func() (bool, string) {
			return succeeded.Load() >= k+5 || succeeded.Load() == n, fmt.Sprintf("%d payments settled", succeeded.Load())
		})
		lk.StopSigner()
		time.Sleep(3 * time.Second) // payments meet the stopped signer
		require.NoError(t, lk.RestartSigner())
		steps.done(fmt.Sprintf("signer stopped 3 s and restarted (%d settled)", succeeded.Load()))
	}
	for done := 0; done < workers; done++ {
		require.NoError(t, <-streamErr)
	}
	steps.done("stream finished")

	var sum uint64
	for _, a := range amts {
		sum += a
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		byHash := map[string]nodeapi.Invoice{}
		for _, inv := range lk.invoices(t) {
			byHash[inv.PaymentHash] = inv
		}
		for i, inv := range invs {
			got, ok := byHash[inv.PaymentHash]
			if !ok || got.Status != nodeapi.InvoicePaid || got.ReceivedMsat != amts[i] {
				return false, fmt.Sprintf("invoice %d: %+v", i, got)
			}
		}
		return true, ""
	})
	checkChannelWith(t, lk, alice, chanTxid)
	require.EqualValues(t, before+sum, lk.channel(t, chanTxid).LocalBalanceMsat, "lnkit holds exactly what was paid")
	steps.done(fmt.Sprintf("%d invoices paid once, %d msat, balances equal", n, sum))
}
