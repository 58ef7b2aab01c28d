// Command demo runs three full lnkit nodes, Alice, Bob and Carol, in one process. They talk over real
// TCP sockets on 127.0.0.1 and share the script-checking in-memory test chain (internal/testchain):
//
//  1. Alice opens a 1,000,000 sat private channel to Bob, Bob one to Carol, and blocks are mined until
//     they are ready; Carol gets Bob's channel_update for theirs (his fee policy);
//  2. Alice pays Bob 100 payments of varied amounts (a few in flight at once), then Bob pays Alice 10;
//  3. Alice pays Carol 20 payments through Bob: Carol makes a BOLT 11 invoice for each, whose route hint
//     (the channels are private) lets Alice's router find the way through Bob; Bob forwards each one
//     (PaymentForwarded) and earns his fee;
//  4. every balance is checked: Alice paid the amounts and the fees, Bob's two channels moved by the
//     amounts and he gained exactly the fees, Carol received the amounts;
//  5. both channels are closed cooperatively (or, with -force-close, Alice force-closes hers with Bob and
//     both sides sweep their outputs, Alice's after to_self_delay blocks);
//  6. a summary gives the payments, the forwards, the channel balances in msat, the on-chain balances
//     and the fees, and checks that nothing was lost beyond fees.
//
// The program exits with status 1 if any step or check fails. The library itself starts no goroutine
// and reads no clock: everything here that does (socket readers and writers, the ticker that drives
// the timers) is host glue, as a real application would write it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	var o options
	flag.BoolVar(&o.ForceClose, "force-close", false, "end with a force close of alice–bob by Alice and the sweeps, instead of a cooperative close")
	flag.IntVar(&o.Payments, "payments", 100, "number of payments from Alice to Bob")
	flag.IntVar(&o.BackPayments, "back-payments", 10, "number of payments from Bob to Alice")
	flag.IntVar(&o.CarolPayments, "carol-payments", 20, "number of payments from Alice to Carol, through Bob")
	flag.IntVar(&o.InFlight, "in-flight", 5, "payments in flight at once, per direction")
	flag.IntVar(&o.DropConnectionAfter, "drop-connection-after", 0, "close Alice's TCP connection after this many of her payments, to show the reconnection (0: never)")
	flag.BoolVar(&o.Verbose, "v", false, "verbose: the library's debug logs (slog) on stderr, and every payment")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "demo: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	// In options zero means "the default": an explicit 0 here means none.
	if o.Payments == 0 {
		o.Payments = -1
	}
	if o.BackPayments == 0 {
		o.BackPayments = -1
	}
	if o.CarolPayments == 0 {
		o.CarolPayments = -1
	}
	o.Out = os.Stdout
	o.LogOut = os.Stderr

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, o)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo FAILED: %v\n", err)
		os.Exit(1)
	}
}
