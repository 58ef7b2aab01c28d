package channelmonitor

// Block counts that decide when a channel goes on chain and when an on-chain result is final. They are
// shared by the ChannelMonitor (which acts on them) and the ChannelManager (which must leave room for
// them), and follow LDK's constants of the same names.
const (
	// AntiReorgDelay is how many confirmations make an on-chain result final (LDK's
	// ANTI_REORG_DELAY): a claim is resolved, an HTLC failed back and an output handed to the host in
	// a SpendableOutputs event only once its transaction is this deep. Six blocks is the depth at which
	// Bitcoin's own software treats a payment as settled; reorganisations deeper than that have not
	// happened on mainnet since 2013.
	AntiReorgDelay = 6

	// LatencyGracePeriodBlocks is how many blocks past an outgoing HTLC's cltv_expiry we wait for the
	// counterparty to fail it off chain before we go on chain to time it out (LDK's
	// LATENCY_GRACE_PERIOD_BLOCKS). Three blocks cover a peer whose view of the chain lags ours by a
	// block or two, so that an honest but slow peer is not force-closed on.
	LatencyGracePeriodBlocks = 3

	// MaxBlocksForConf is how many blocks we assume a transaction of ours needs to confirm once we
	// start bumping its fee (LDK's MAX_BLOCKS_FOR_CONF): 18 blocks, three hours, is what a fee
	// estimator's "within 3 hours" target is built for.
	MaxBlocksForConf = 18

	// CLTVClaimBuffer is how many blocks before an incoming HTLC's cltv_expiry we go on chain to claim
	// it when we hold its preimage and the counterparty has not taken the fulfill (BOLT 2; LDK's
	// CLTV_CLAIM_BUFFER): our commitment must confirm and then our HTLC-success transaction, each
	// within MaxBlocksForConf, before the counterparty can take the output back with its timeout path.
	CLTVClaimBuffer = 2 * MaxBlocksForConf

	// HTLCFailBackBuffer is how many blocks before an incoming HTLC's cltv_expiry the ChannelManager
	// fails it back when nobody claimed it (LDK's HTLC_FAIL_BACK_BUFFER). It is CLTVClaimBuffer plus
	// LatencyGracePeriodBlocks, so that a payment claimed just before this deadline still leaves the
	// counterparty time to take the fulfill before the monitor would have to go on chain.
	HTLCFailBackBuffer = CLTVClaimBuffer + LatencyGracePeriodBlocks
)
