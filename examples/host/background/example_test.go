package background_test

import (
	"fmt"
	"os"
)

// Example wires two nodes as the README's host loop does: each node's ChannelManager, ChainMonitor and
// PeerManager are driven by a background.Processor (events, persisting the manager before anything
// leaves, timers), and their sockets are lnsocket connections over 127.0.0.1 whose writers
// persist the manager first (Processor.BeforeWrite). Alice opens a channel to Bob over them.
func Example() {
	dir, err := os.MkdirTemp("", "lnkit-background-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	chain, alice, bob, err := newPair(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = openChannel(chain, alice, bob, 100_000)
	if err != nil {
		fmt.Println(err)
	}
	fmt.Println("channel ready on both sides:", err == nil)
	fmt.Println("stopped, managers persisted:", alice.stop() == nil && bob.stop() == nil,
		len(fileBytes(alice.mgrFile)) > 0 && len(fileBytes(bob.mgrFile)) > 0)
	// Output:
	// channel ready on both sides: true
	// stopped, managers persisted: true true
}
