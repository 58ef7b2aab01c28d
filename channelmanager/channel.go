package channelmanager

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// channelState is where a channel is in its life (BOLT 2). The names follow the spec's phases. The
// values are persisted (and ordered: the phases are compared): never renumber them.
type channelState uint8

const (
	// stateOpenSent: we sent `open_channel` and wait for `accept_channel`.
	stateOpenSent channelState = 0
	// stateAwaitingFundingTx: we (funder) got `accept_channel` and wait for the host's funding transaction.
	stateAwaitingFundingTx channelState = 1
	// stateAcceptSent: we (fundee) sent `accept_channel` and wait for `funding_created`.
	stateAcceptSent channelState = 2
	// stateFundingCreatedSent: we (funder) sent `funding_created` and wait for `funding_signed`.
	stateFundingCreatedSent channelState = 3
	// stateAwaitingChannelReady: funding is signed; we wait for confirmations and `channel_ready`.
	stateAwaitingChannelReady channelState = 4
	// stateChannelReady: normal operation (`channel_ready` sent and received).
	stateChannelReady channelState = 5
	// stateShutdown: `shutdown` sent and/or received; HTLCs drain, no new ones.
	stateShutdown channelState = 6
	// stateNegotiatingClosing: no HTLCs left, `closing_signed` exchange in progress.
	stateNegotiatingClosing channelState = 7
	// stateClosed: the channel is closed (cooperatively or by force); it only waits to be forgotten.
	stateClosed channelState = 8
	// stateAwaitingManualAccept: an inbound `open_channel` waits for AcceptInboundChannel.
	stateAwaitingManualAccept channelState = 9
)

func (s channelState) String() string {
	switch s {
	case stateOpenSent:
		return "OpenSent"
	case stateAwaitingFundingTx:
		return "AwaitingFundingTx"
	case stateAcceptSent:
		return "AcceptSent"
	case stateFundingCreatedSent:
		return "FundingCreatedSent"
	case stateAwaitingChannelReady:
		return "AwaitingChannelReady"
	case stateChannelReady:
		return "ChannelReady"
	case stateShutdown:
		return "Shutdown"
	case stateNegotiatingClosing:
		return "NegotiatingClosing"
	case stateClosed:
		return "Closed"
	case stateAwaitingManualAccept:
		return "AwaitingManualAccept"
	}
	return fmt.Sprintf("channelState(%d)", uint8(s))
}

// notYet marks a commitment height not assigned yet.
const notYet = ^uint64(0)

// sideParams are one side's static channel parameters as announced in `open_channel`/`accept_channel`.
// For the local side they are what we announced; for the remote side what they announced. Each side's
// DustLimitSat applies to its own commitment; ChannelReserveSat, HTLCMinimumMsat,
// MaxHTLCValueInFlightMsat, MaxAcceptedHTLCs and ToSelfDelay are limits imposed ON THE OTHER side.
type sideParams struct {
	DustLimitSat             uint64
	MaxHTLCValueInFlightMsat uint64
	ChannelReserveSat        uint64
	HTLCMinimumMsat          uint64
	ToSelfDelay              uint16
	MaxAcceptedHTLCs         uint16
	Pubkeys                  keys.ChannelPublicKeys
	UpfrontShutdownScript    []byte
}

// removeKind says how an HTLC was removed. The values are persisted: never renumber them.
type removeKind uint8

const (
	removeNone          removeKind = 0
	removeFulfill       removeKind = 1
	removeFail          removeKind = 2
	removeFailMalformed removeKind = 3
)

// htlc is one HTLC and its progress through both commitment chains. AddLocal/AddRemote are the numbers
// of the first local/remote commitment that includes the HTLC, RemoveLocal/RemoveRemote of the first
// that no longer does; notYet until assigned.
type htlc struct {
	ID          uint64
	Incoming    bool // offered by the counterparty
	AmountMsat  uint64
	PaymentHash [32]byte
	CltvExpiry  uint32
	Onion       [1366]byte

	AddLocal, AddRemote       uint64
	RemoveLocal, RemoveRemote uint64

	Remove     removeKind
	Preimage   [32]byte
	FailReason []byte // update_fail_htlc reason (encrypted onion error)
	FailCode   uint16 // update_fail_malformed_htlc failure_code
	FailSHA    [32]byte
	AddSeq     uint64 // order in which we sent the add (outgoing) — for retransmission
	RemoveSeq  uint64 // order in which we sent the removal (incoming) — for retransmission
	Processed  bool   // incoming: the payment logic saw it; outgoing: its outcome was reported
	// Outgoing: where it comes from (our payment's path, or the incoming HTLC it forwards); the
	// channel never looks inside.
	Source htlcSource
	// Incoming: the shared secret with the payer, to encrypt a failure.
	SharedSecret [32]byte
}

// feeUpdate is an `update_fee` and its progress through both chains.
type feeUpdate struct {
	FeeratePerKw      uint32
	FromRemote        bool
	InLocal, InRemote uint64
	Seq               uint64
}

// channel is one channel's state machine: a value whose methods take one input (a message, a block, an
// API call) and return what must happen (effects: monitor updates, messages, broadcasts, events, HTLCs
// for the payment layer) and an error. It sends nothing itself; the ChannelManager holds the peer lock
// while calling it and applies the effects (apply).
type channel struct {
	state         channelState
	outbound      bool // we are the funder (opener)
	temporaryID   lnwire.ChannelID
	channelID     lnwire.ChannelID
	counterparty  *btcec.PublicKey
	userChannelID [16]byte
	channelType   bolt3.ChannelType
	valueSat      int64
	pushMsat      uint64
	local, remote sideParams
	signer        keys.ChannelSigner
	keysID        [32]byte

	fundingOutPoint   wire.OutPoint
	fundingScript     []byte // witness script of the 2-of-2
	fundingPkScript   []byte
	fundingTx         *wire.MsgTx // only when we are the funder, until broadcast
	minimumDepth      uint32
	fundingConfHeight uint32 // 0 until the funding transaction confirms
	shortChannelID    lnwire.ShortChannelID
	obscuringFactor   uint64
	createdHeight     uint32

	ourChannelReadySent   bool
	theirChannelReadyRcvd bool

	// Commitment chains. localCommitNum is our current commitment (signed by them, previous revoked);
	// remoteCommitNum is their current revoked-through commitment; awaitingRAA says we signed
	// remoteCommitNum+1 and wait for their revocation of remoteCommitNum.
	localCommitNum  uint64
	remoteCommitNum uint64
	awaitingRAA     bool
	remoteCurPoint  *btcec.PublicKey // per_commitment_point of remote commitment remoteCommitNum
	remoteNextPoint *btcec.PublicKey // of remoteCommitNum+1 (nil until known)
	remoteSecrets   *keys.CounterpartyCommitmentSecrets

	baseLocalMsat, baseRemoteMsat uint64 // balances with every folded HTLC applied
	baseFeeratePerKw              uint32
	htlcs                         []*htlc // ordered by (Incoming, ID)
	feeUpdates                    []*feeUpdate
	nextLocalHTLCID               uint64
	nextRemoteHTLCID              uint64
	updateSeq                     uint64

	// Retransmission state (BOLT 2, "Message Retransmission").
	lastCommitSigned   *lnwire.CommitmentSigned // our last commitment_signed, until revoked
	lastCommitSeq      uint64                   // updateSeq when it was sent
	lastRAASeq         uint64                   // updateSeq when our last revoke_and_ack was sent
	peerConnected      bool
	reestablishPending bool // we sent channel_reestablish and wait for theirs

	// Closing.
	shutdownSent, shutdownRcvd bool
	shutdownReplyPending       bool // our shutdown goes out once our pending updates are committed
	localShutdownScript        []byte
	remoteShutdownScript       []byte
	closingFeeProposedSat      int64 // last fee we proposed, -1 for none

	// errorSent is the `error` we sent when failing the channel; it is sent again when the peer
	// reconnects or talks about the channel (BOLT 2: a node SHOULD retransmit it).
	errorSent []byte

	// Monitor updates, kept by apply: the channel's output that depends on its state (messages and
	// broadcasts) is held while an update is in flight. monitorFailed: an update could not be
	// persisted; the channel is failed and that output never leaves (not persisted: the channel is
	// closed, and a restarted manager reads it as such).
	latestMonitorUpdateID uint64
	// inFlightUpdates are the updates persisted asynchronously (InProgress) and not yet reported
	// complete, in order; a new channel's first write is an entry with UpdateID 0 and no steps. The
	// others are kept in the channel's store record: a restart hands the monitor those it lost (the host
	// died before the writes were made).
	inFlightUpdates []*channelmonitor.ChannelMonitorUpdate
	heldMessages    []heldOutput
	monitorFailed   bool

	// Asynchronous signing (SignerUnblocked): stashedMsgs are the peer's messages kept, in order, since
	// one needed an answer the signer had not given; reestablishWaiting says our channel_reestablish
	// waits for the signer's point. Neither is persisted: a restart reconnects and starts again.
	stashedMsgs        []lnwire.Message
	reestablishWaiting bool
	// fundingRefused is the signer's refusal of a funding signature, for checkSignerRefusal.
	fundingRefused error

	// gossip is the channel's BOLT 7 state: public or not, announcement_signatures, our channel_update
	// and the counterparty's forwarding parameters (channel_announce.go, gossip_out.go).
	gossip gossipState
}

// ChannelError is a protocol violation found while handling a peer's message. Close tells whether the
// channel must be failed (send `error` and force-close) or only a `warning` sent.
type ChannelError struct {
	ChannelID lnwire.ChannelID
	Msg       string
	Close     bool
}

func (e *ChannelError) Error() string { return "channel " + e.ChannelID.String() + ": " + e.Msg }

func (c *channel) protoErr(format string, args ...any) error {
	return &ChannelError{ChannelID: c.id(), Msg: fmt.Sprintf(format, args...), Close: true}
}

func (c *channel) warnErr(format string, args ...any) error {
	return &ChannelError{ChannelID: c.id(), Msg: fmt.Sprintf(format, args...), Close: false}
}

// id is the channel's current id: the temporary one until funding_created.
func (c *channel) id() lnwire.ChannelID {
	if c.state <= stateAcceptSent || c.state == stateAwaitingManualAccept || c.state == stateFundingCreatedSent && c.channelID == (lnwire.ChannelID{}) {
		return c.temporaryID
	}
	return c.channelID
}

func (c *channel) nextSeq() uint64 {
	c.updateSeq++
	return c.updateSeq
}

// feerateAt returns the feerate of commitment n of the local (local=true) or remote chain.
func (c *channel) feerateAt(local bool, n uint64) uint32 {
	f := c.baseFeeratePerKw
	for _, u := range c.feeUpdates {
		h := u.InRemote
		if local {
			h = u.InLocal
		}
		if h != notYet && h <= n {
			f = u.FeeratePerKw
		}
	}
	return f
}

// commitView is the content of one commitment: balances from OUR point of view and the live HTLCs.
type commitView struct {
	ourMsat, theirMsat uint64
	htlcs              []*htlc
	feeratePerKw       uint32
	// overdrawn: an HTLC exceeds its offerer's balance; such a view never becomes a commitment.
	overdrawn bool
}

// viewAt computes commitment n of the local or remote chain. Heights not yet assigned may be supplied
// through pending: a function that says whether an update not yet placed would be included (used when
// building the next commitment before assigning heights).
func (c *channel) viewAt(local bool, n uint64) commitView {
	v := commitView{ourMsat: c.baseLocalMsat, theirMsat: c.baseRemoteMsat, feeratePerKw: c.feerateAt(local, n)}
	for _, h := range c.htlcs {
		add, rem := h.AddRemote, h.RemoveRemote
		if local {
			add, rem = h.AddLocal, h.RemoveLocal
		}
		if add == notYet || add > n {
			continue
		}
		v.add(h, rem != notYet && rem <= n)
	}
	return v
}

// add applies an HTLC included in a commitment to its view: the offerer's balance pays for it; if the
// commitment also includes its removal, the amount goes to the receiver (fulfilled) or back (failed),
// otherwise the HTLC is live.
func (v *commitView) add(h *htlc, removed bool) {
	bal := &v.ourMsat
	if h.Incoming {
		bal = &v.theirMsat
	}
	if *bal < h.AmountMsat {
		// The offerer cannot pay for it: the view is invalid (checkAffordable refuses it), not wrapped.
		v.overdrawn = true
		*bal = 0
	} else {
		*bal -= h.AmountMsat
	}
	if !removed {
		v.htlcs = append(v.htlcs, h)
		return
	}
	switch {
	case h.Remove == removeFulfill && h.Incoming:
		v.ourMsat += h.AmountMsat
	case h.Remove == removeFulfill:
		v.theirMsat += h.AmountMsat
	case h.Incoming:
		v.theirMsat += h.AmountMsat
	default:
		v.ourMsat += h.AmountMsat
	}
}

// localKeys returns the keys of our commitment with per-commitment point p (BOLT 3, "Key Derivation").
func (c *channel) localKeys(p *btcec.PublicKey) bolt3.CommitmentKeys {
	return bolt3.CommitmentKeys{
		RevocationKey:    keys.DeriveRevocationPublicKey(c.remote.Pubkeys.RevocationBasepoint, p),
		LocalDelayedKey:  keys.DerivePublicKey(c.local.Pubkeys.DelayedPaymentBasepoint, p),
		RemotePaymentKey: c.remote.Pubkeys.PaymentPoint,
		LocalHTLCKey:     keys.DerivePublicKey(c.local.Pubkeys.HTLCBasepoint, p),
		RemoteHTLCKey:    keys.DerivePublicKey(c.remote.Pubkeys.HTLCBasepoint, p),
		LocalFundingKey:  c.local.Pubkeys.FundingPubkey,
		RemoteFundingKey: c.remote.Pubkeys.FundingPubkey,
	}
}

// remoteKeys returns the keys of the counterparty's commitment with their per-commitment point p.
func (c *channel) remoteKeys(p *btcec.PublicKey) bolt3.CommitmentKeys {
	return bolt3.CommitmentKeys{
		RevocationKey:    keys.DeriveRevocationPublicKey(c.local.Pubkeys.RevocationBasepoint, p),
		LocalDelayedKey:  keys.DerivePublicKey(c.remote.Pubkeys.DelayedPaymentBasepoint, p),
		RemotePaymentKey: c.local.Pubkeys.PaymentPoint,
		LocalHTLCKey:     keys.DerivePublicKey(c.remote.Pubkeys.HTLCBasepoint, p),
		RemoteHTLCKey:    keys.DerivePublicKey(c.local.Pubkeys.HTLCBasepoint, p),
		LocalFundingKey:  c.remote.Pubkeys.FundingPubkey,
		RemoteFundingKey: c.local.Pubkeys.FundingPubkey,
	}
}

// builtCommitment is a commitment transaction with what is needed to sign or check it.
type builtCommitment struct {
	num   uint64
	point *btcec.PublicKey
	keys  bolt3.CommitmentKeys
	view  commitView
	tx    *bolt3.CommitmentTx
	txid  chainhash.Hash
	local bool
}

// buildCommitment builds commitment n of the local or remote chain from view v, whose owner's
// per-commitment point is p.
func (c *channel) buildCommitment(local bool, n uint64, p *btcec.PublicKey, v commitView) (*builtCommitment, error) {
	params := &bolt3.CommitmentParams{
		FundingOutPoint:  c.fundingOutPoint,
		CommitmentNumber: n,
		ObscuringFactor:  c.obscuringFactor,
		FeeratePerKw:     v.feeratePerKw,
		Type:             c.channelType,
	}
	var ks bolt3.CommitmentKeys
	if local {
		ks = c.localKeys(p)
		params.ToLocalMsat, params.ToRemoteMsat = v.ourMsat, v.theirMsat
		params.LocalIsFunder = c.outbound
		params.DustLimitSat = int64(c.local.DustLimitSat)
		params.ToSelfDelay = c.remote.ToSelfDelay
	} else {
		ks = c.remoteKeys(p)
		params.ToLocalMsat, params.ToRemoteMsat = v.theirMsat, v.ourMsat
		params.LocalIsFunder = !c.outbound
		params.DustLimitSat = int64(c.remote.DustLimitSat)
		params.ToSelfDelay = c.local.ToSelfDelay
	}
	params.Keys = ks
	params.HTLCs = make([]bolt3.HTLC, len(v.htlcs))
	for i, h := range v.htlcs {
		// Offered from the commitment owner's point of view.
		offered := !h.Incoming
		if !local {
			offered = h.Incoming
		}
		params.HTLCs[i] = bolt3.HTLC{Offered: offered, AmountMsat: h.AmountMsat, PaymentHash: h.PaymentHash,
			CltvExpiry: h.CltvExpiry, ID: htlcKey(h)}
	}
	ct, err := bolt3.BuildCommitmentTx(params)
	if err != nil {
		return nil, err
	}
	return &builtCommitment{num: n, point: p, keys: ks, view: v, tx: ct, txid: ct.Tx.TxHash(), local: local}, nil
}

// htlcKey packs an HTLC's direction and id into the bolt3.HTLC.ID echo field.
func htlcKey(h *htlc) uint64 {
	if h.Incoming {
		return h.ID<<1 | 1
	}
	return h.ID << 1
}

func (c *channel) findHTLC(incoming bool, id uint64) *htlc {
	for _, h := range c.htlcs {
		if h.Incoming == incoming && h.ID == id {
			return h
		}
	}
	return nil
}

// fold removes HTLCs and fee updates that every unrevoked commitment of both chains already reflects,
// moving their effect into the base balances and feerate.
func (c *channel) fold() {
	kept := c.htlcs[:0]
	for _, h := range c.htlcs {
		if h.RemoveLocal != notYet && h.RemoveLocal <= c.localCommitNum &&
			h.RemoveRemote != notYet && h.RemoveRemote <= c.remoteCommitNum {
			fulfilled := h.Remove == removeFulfill
			switch {
			case h.Incoming && fulfilled:
				c.baseRemoteMsat -= h.AmountMsat
				c.baseLocalMsat += h.AmountMsat
			case !h.Incoming && fulfilled:
				c.baseLocalMsat -= h.AmountMsat
				c.baseRemoteMsat += h.AmountMsat
			}
			continue
		}
		kept = append(kept, h)
	}
	for i := len(kept); i < len(c.htlcs); i++ {
		c.htlcs[i] = nil
	}
	c.htlcs = kept
	keptFee := c.feeUpdates[:0]
	for _, u := range c.feeUpdates {
		if u.InLocal != notYet && u.InLocal <= c.localCommitNum && u.InRemote != notYet && u.InRemote <= c.remoteCommitNum {
			c.baseFeeratePerKw = u.FeeratePerKw
			continue
		}
		keptFee = append(keptFee, u)
	}
	c.feeUpdates = keptFee
}

// funded says whether the funding signatures are exchanged (the channel has a monitor). A closed
// channel still known was funded: one closed before funding is forgotten.
func (c *channel) funded() bool {
	return c.state >= stateAwaitingChannelReady && c.state != stateAwaitingManualAccept
}

// isUsable says whether new HTLCs may be added.
func (c *channel) isUsable() bool {
	return c.state == stateChannelReady && !c.shutdownSent && !c.shutdownRcvd && c.peerConnected && !c.reestablishPending
}

// reserveAnchorsSat is what the funder pays for the two anchor outputs, if any.
func (c *channel) anchorsSat() int64 {
	if c.channelType.HasAnchors() {
		return 2 * 330
	}
	return 0
}
