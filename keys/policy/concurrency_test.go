package policy

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConcurrentChannels runs honest rounds on two channels, approvals and clock updates at once
// (run with -race).
func TestConcurrentChannels(t *testing.T) {
	h := newHarness(t, nil)
	chans := []*testChan{h.open(1_000_000, false), h.open(1_000_000, true)}
	var wg sync.WaitGroup
	errs := make([]error, len(chans))
	for i, tc := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = honestRoundsErr(h, tc, byte(10*i+1)); errs[i] == nil {
				errs[i] = honestRoundsErr(h, tc, byte(10*i+2))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			h.pol.SetTime(testNow + uint64(i))
			_ = h.pol.DeriveChannelSigner(chans[0].value, chans[0].id).Pubkeys()
		}
	}()
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}
