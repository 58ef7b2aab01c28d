package channelmanager

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// managerVersion is the serialization version of Write; Read accepts every version up to it.
const managerVersion uint8 = 3

// Version 2 adds each claimable HTLC's funding outpoint (claims reach a closed channel's monitor).
// Version 3 writes each offered HTLC's source (encodeSource) where versions 1-2 wrote a payment id and
// the onion's shared secrets, each outbound payment's paths, the forward queue, intercepts and the
// pending events (events_persist.go).

// ErrCorrupt is returned (wrapped) by Read for data it cannot decode.
var ErrCorrupt = errors.New("channelmanager: corrupt data")

// Write serializes the manager: funded channels with their full update state, expected and pending
// payments, the chain tip, and the channels' BOLT 7 state (serialize_gossip.go). Channels still being negotiated are not written (they do not survive a
// restart, as in LDK). Write the result durably (temp file, fsync, rename) and call it whenever
// GetAndClearNeedsPersistence returns true. Write may run concurrently with everything else, including
// other Writes.
func (cm *ChannelManager) Write() []byte {
	var w ser.Writer
	w.U8(managerVersion)
	cm.mu.Lock()
	w.Hash(cm.bestBlock.Hash)
	w.U32(cm.bestBlock.Height)
	w.U32(cm.highestBlockTime)
	cm.mu.Unlock()

	chans := cm.snapshotChannels()
	w.U32(uint32(len(chans)))
	for _, b := range chans {
		w.Fixed(b)
	}
	cm.writePayments(&w)
	cm.writeForwards(&w)
	cm.writeEvents(&w)
	cm.writeGossip(&w) // last: it takes the rest of the data
	return w.Bytes()
}

// snapshotChannels serializes the funded channels, one peer at a time under that peer's lock only.
// Holding every peer lock at once, as Write once did, deadlocks two concurrent Writes that take them in
// different orders, and buys nothing: channels with different peers share no state (each is consistent
// under its own peer's lock), and the payment maps are written afterwards under their own locks in any case.
// Channels are written after the state they depend on was registered in the payment maps (incoming
// HTLCs are added to claimable payments under the peer lock, outgoing payments are registered before
// their HTLC exists), so writing channels first and payments second never loses a payment that a
// written channel refers to. Peers are visited in node id order, for a stable output.
func (cm *ChannelManager) snapshotChannels() [][]byte {
	peers := cm.allPeers()
	sort.Slice(peers, func(i, j int) bool {
		ki, kj := nodeKey(peers[i].nodeID), nodeKey(peers[j].nodeID)
		return bytes.Compare(ki[:], kj[:]) < 0
	})
	var out [][]byte
	for _, ps := range peers {
		ps.mu.Lock()
		for _, c := range ps.channels {
			if c.state >= stateAwaitingChannelReady && c.state != stateAwaitingManualAccept {
				var cw ser.Writer
				writeChannel(&cw, c)
				out = append(out, cw.Bytes())
			}
		}
		ps.mu.Unlock()
	}
	return out
}

// writePayments writes the expected, claimable and outbound payments.
func (cm *ChannelManager) writePayments(w *ser.Writer) {
	cm.inbound.mu.Lock()
	w.U32(uint32(len(cm.inbound.expected)))
	for _, p := range cm.inbound.expected {
		writeExpected(w, p)
	}
	w.U32(uint32(len(cm.inbound.claimable)))
	for _, c := range cm.inbound.claimable {
		writeClaimable(w, c)
	}
	cm.inbound.mu.Unlock()
	cm.outbound.mu.Lock()
	defer cm.outbound.mu.Unlock()
	w.U32(uint32(len(cm.outbound.byID)))
	for _, o := range cm.outbound.byID {
		writeOutbound(w, o)
	}
}

// writeExpected writes an invoice we expect to be paid; readExpected reads it.
func writeExpected(w *ser.Writer, p *inboundPayment) {
	w.Fixed(p.Preimage[:])
	w.Fixed(p.Secret[:])
	w.U64(p.AmountMsat)
	w.U16(p.MinFinalCLTVExpiryDelta)
	w.U64(p.ExpiresAt)
}

func readExpected(r *ser.Reader) *inboundPayment {
	return &inboundPayment{Preimage: r.Fixed32(), Secret: r.Fixed32(), AmountMsat: r.U64(), MinFinalCLTVExpiryDelta: r.U16(), ExpiresAt: r.U64()}
}

// writeClaimable writes a payment being received (its HTLCs); readClaimable reads it (nil after a
// decoding failure, recorded in r).
func writeClaimable(w *ser.Writer, c *claimablePayment) {
	w.Fixed(c.Hash[:])
	w.U64(c.TotalMsat)
	w.Bool(c.Announced)
	writePurpose(w, c.Purpose)
	w.U32(uint32(len(c.Parts)))
	for _, p := range c.Parts {
		w.Fixed(p.ChannelID[:])
		w.Point(p.Counterparty)
		w.U64(p.HTLCID)
		w.U64(p.AmountMsat)
		w.U32(p.CltvExpiry)
		w.OutPoint(p.FundingTxo)
	}
}

func readClaimable(r *ser.Reader, version uint8) *claimablePayment {
	c := &claimablePayment{Hash: r.Fixed32(), TotalMsat: r.U64(), Announced: r.Bool()}
	c.Purpose = readPurpose(r)
	parts := r.Count(32 + 33 + 8 + 8 + 4)
	for j := 0; j < parts; j++ {
		part := claimPart{ChannelID: r.Fixed32(), Counterparty: r.Point(), HTLCID: r.U64(), AmountMsat: r.U64(), CltvExpiry: r.U32()}
		if version >= 2 {
			part.FundingTxo = r.OutPoint()
		}
		c.Parts = append(c.Parts, part)
	}
	if r.Err() != nil {
		return nil
	}
	if len(c.Parts) == 0 {
		r.Fail("claimable payment without HTLCs")
		return nil
	}
	return c
}

// writeOutbound writes a payment we send; readOutbound reads it.
func writeOutbound(w *ser.Writer, o *outboundPayment) {
	w.Fixed(o.ID[:])
	w.Fixed(o.Hash[:])
	w.U64(o.AmountMsat)
	w.U64(o.FeeMsat)
	w.Bool(o.Done)
	w.U32(uint32(len(o.Paths)))
	for _, p := range o.Paths {
		w.U64(p.FeeMsat)
		w.U8(uint8(p.State))
		w.U64(p.AmountMsat)
	}
	w.Var(encodeRetry(o.Retry))
	w.Bool(o.Probe)
}

func readOutbound(r *ser.Reader, version uint8) *outboundPayment {
	o := &outboundPayment{ID: r.Fixed32(), Hash: r.Fixed32(), AmountMsat: r.U64(), FeeMsat: r.U64(), Done: r.Bool()}
	o.Paths = readOutboundPaths(r, o, version)
	return o
}

func writePurpose(w *ser.Writer, p events.PaymentPurpose) {
	w.Bool(p.PaymentPreimage != nil)
	if p.PaymentPreimage != nil {
		w.Fixed(p.PaymentPreimage[:])
	}
	w.Fixed(p.PaymentSecret[:])
}

func readPurpose(r *ser.Reader) events.PaymentPurpose {
	var p events.PaymentPurpose
	if r.Bool() {
		pre := r.Fixed32()
		p.PaymentPreimage = &pre
	}
	p.PaymentSecret = r.Fixed32()
	return p
}

func writeSide(w *ser.Writer, s *sideParams) {
	w.U64(s.DustLimitSat)
	w.U64(s.MaxHTLCValueInFlightMsat)
	w.U64(s.ChannelReserveSat)
	w.U64(s.HTLCMinimumMsat)
	w.U16(s.ToSelfDelay)
	w.U16(s.MaxAcceptedHTLCs)
	w.Point(s.Pubkeys.FundingPubkey)
	w.Point(s.Pubkeys.RevocationBasepoint)
	w.Point(s.Pubkeys.PaymentPoint)
	w.Point(s.Pubkeys.DelayedPaymentBasepoint)
	w.Point(s.Pubkeys.HTLCBasepoint)
	w.Var(s.UpfrontShutdownScript)
}

func readSide(r *ser.Reader) sideParams {
	s := sideParams{DustLimitSat: r.U64(), MaxHTLCValueInFlightMsat: r.U64(), ChannelReserveSat: r.U64(),
		HTLCMinimumMsat: r.U64(), ToSelfDelay: r.U16(), MaxAcceptedHTLCs: r.U16()}
	s.Pubkeys = keys.ChannelPublicKeys{FundingPubkey: r.Point(), RevocationBasepoint: r.Point(), PaymentPoint: r.Point(),
		DelayedPaymentBasepoint: r.Point(), HTLCBasepoint: r.Point()}
	s.UpfrontShutdownScript = r.Var()
	if s.Pubkeys.FundingPubkey == nil || s.Pubkeys.RevocationBasepoint == nil || s.Pubkeys.PaymentPoint == nil ||
		s.Pubkeys.DelayedPaymentBasepoint == nil || s.Pubkeys.HTLCBasepoint == nil {
		r.Fail("missing basepoint")
	}
	return s
}

func writeChannel(w *ser.Writer, c *channel) {
	w.U8(uint8(c.state))
	w.Bool(c.outbound)
	w.Fixed(c.temporaryID[:])
	w.Fixed(c.channelID[:])
	w.Point(c.counterparty)
	w.Fixed(c.userChannelID[:])
	w.U8(uint8(c.channelType))
	w.I64(c.valueSat)
	w.U64(c.pushMsat)
	writeSide(w, &c.local)
	writeSide(w, &c.remote)
	w.Fixed(c.keysID[:])
	w.OutPoint(c.fundingOutPoint)
	w.Var(c.fundingScript)
	w.Var(c.fundingPkScript)
	w.Tx(c.fundingTx)
	w.U32(c.minimumDepth)
	w.U32(c.fundingConfHeight)
	w.U64(c.shortChannelID.ToUint64())
	w.U64(c.obscuringFactor)
	w.U32(c.createdHeight)
	w.Bool(c.ourChannelReadySent)
	w.Bool(c.theirChannelReadyRcvd)
	w.U64(c.localCommitNum)
	w.U64(c.remoteCommitNum)
	w.Bool(c.awaitingRAA)
	w.Point(c.remoteCurPoint)
	w.Point(c.remoteNextPoint)
	w.Var(c.remoteSecrets.Encode())
	w.U64(c.baseLocalMsat)
	w.U64(c.baseRemoteMsat)
	w.U32(c.baseFeeratePerKw)
	w.U32(uint32(len(c.htlcs)))
	for _, h := range c.htlcs {
		w.U64(h.ID)
		w.Bool(h.Incoming)
		w.U64(h.AmountMsat)
		w.Fixed(h.PaymentHash[:])
		w.U32(h.CltvExpiry)
		w.Fixed(h.Onion[:])
		w.U64(h.AddLocal)
		w.U64(h.AddRemote)
		w.U64(h.RemoveLocal)
		w.U64(h.RemoveRemote)
		w.U8(uint8(h.Remove))
		w.Fixed(h.Preimage[:])
		w.Var(h.FailReason)
		w.U16(h.FailCode)
		w.Fixed(h.FailSHA[:])
		w.U64(h.AddSeq)
		w.U64(h.RemoveSeq)
		w.Bool(h.Processed)
		w.Var(encodeSource(h.Source))
		w.Fixed(h.SharedSecret[:])
	}
	w.U32(uint32(len(c.feeUpdates)))
	for _, u := range c.feeUpdates {
		w.U32(u.FeeratePerKw)
		w.Bool(u.FromRemote)
		w.U64(u.InLocal)
		w.U64(u.InRemote)
		w.U64(u.Seq)
	}
	w.U64(c.nextLocalHTLCID)
	w.U64(c.nextRemoteHTLCID)
	w.U64(c.updateSeq)
	if c.lastCommitSigned != nil {
		b, _ := lnwire.EncodeMessage(c.lastCommitSigned)
		w.Var(b)
	} else {
		w.Var(nil)
	}
	w.U64(c.lastCommitSeq)
	w.U64(c.lastRAASeq)
	w.Bool(c.shutdownSent)
	w.Bool(c.shutdownRcvd)
	w.Bool(c.shutdownReplyPending)
	w.Var(c.localShutdownScript)
	w.Var(c.remoteShutdownScript)
	w.I64(c.closingFeeProposedSat)
	w.U64(c.latestMonitorUpdateID)
	w.Var(c.errorSent)
}

func readChannel(r *ser.Reader, sp keys.SignerProvider, version uint8) *channel {
	c := &channel{state: channelState(r.U8()), outbound: r.Bool()}
	c.temporaryID = r.Fixed32()
	c.channelID = r.Fixed32()
	c.counterparty = r.Point()
	copy(c.userChannelID[:], r.Fixed(16))
	c.channelType = bolt3.ChannelType(r.U8())
	c.valueSat = r.I64()
	c.pushMsat = r.U64()
	c.local = readSide(r)
	c.remote = readSide(r)
	c.keysID = r.Fixed32()
	c.fundingOutPoint = r.OutPoint()
	c.fundingScript = r.Var()
	c.fundingPkScript = r.Var()
	c.fundingTx = r.Tx()
	c.minimumDepth = r.U32()
	c.fundingConfHeight = r.U32()
	c.shortChannelID = lnwire.NewShortChannelIDFromUint64(r.U64())
	c.obscuringFactor = r.U64()
	c.createdHeight = r.U32()
	c.ourChannelReadySent = r.Bool()
	c.theirChannelReadyRcvd = r.Bool()
	c.localCommitNum = r.U64()
	c.remoteCommitNum = r.U64()
	c.awaitingRAA = r.Bool()
	c.remoteCurPoint = r.Point()
	c.remoteNextPoint = r.Point()
	c.remoteSecrets = keys.NewCounterpartyCommitmentSecrets()
	if err := c.remoteSecrets.Decode(r.Var()); err != nil {
		r.Fail("secrets: %v", err)
	}
	c.baseLocalMsat = r.U64()
	c.baseRemoteMsat = r.U64()
	c.baseFeeratePerKw = r.U32()
	n := r.Count(1400)
	for i := 0; i < n && r.Err() == nil; i++ {
		h := &htlc{ID: r.U64(), Incoming: r.Bool(), AmountMsat: r.U64(), PaymentHash: r.Fixed32(), CltvExpiry: r.U32()}
		copy(h.Onion[:], r.Fixed(1366))
		h.AddLocal, h.AddRemote, h.RemoveLocal, h.RemoveRemote = r.U64(), r.U64(), r.U64(), r.U64()
		h.Remove = removeKind(r.U8())
		h.Preimage = r.Fixed32()
		h.FailReason = r.Var()
		h.FailCode = r.U16()
		h.FailSHA = r.Fixed32()
		h.AddSeq, h.RemoveSeq = r.U64(), r.U64()
		h.Processed = r.Bool()
		h.Source = readHTLCSource(r, h, version)
		h.SharedSecret = r.Fixed32()
		c.htlcs = append(c.htlcs, h)
	}
	n = r.Count(29)
	for i := 0; i < n; i++ {
		c.feeUpdates = append(c.feeUpdates, &feeUpdate{FeeratePerKw: r.U32(), FromRemote: r.Bool(), InLocal: r.U64(), InRemote: r.U64(), Seq: r.U64()})
	}
	c.nextLocalHTLCID = r.U64()
	c.nextRemoteHTLCID = r.U64()
	c.updateSeq = r.U64()
	if b := r.Var(); b != nil {
		m, err := lnwire.DecodeMessage(b)
		cs, ok := m.(*lnwire.CommitmentSigned)
		if err != nil || !ok {
			r.Fail("last commitment_signed unreadable")
		}
		c.lastCommitSigned = cs
	}
	c.lastCommitSeq = r.U64()
	c.lastRAASeq = r.U64()
	c.shutdownSent = r.Bool()
	c.shutdownRcvd = r.Bool()
	c.shutdownReplyPending = r.Bool()
	c.localShutdownScript = r.Var()
	c.remoteShutdownScript = r.Var()
	c.closingFeeProposedSat = r.I64()
	c.latestMonitorUpdateID = r.U64()
	c.errorSent = r.Var()
	if r.Err() != nil {
		return nil
	}
	if c.counterparty == nil {
		r.Fail("channel without counterparty")
		return nil
	}
	c.signer = sp.DeriveChannelSigner(c.valueSat, c.keysID)
	if c.signer == nil || !c.signer.Pubkeys().FundingPubkey.IsEqual(c.local.Pubkeys.FundingPubkey) {
		r.Fail("the keys manager does not derive channel %s's keys (wrong seed?)", c.channelID)
		return nil
	}
	// A remote signer may answer later (keys.ErrSignerPending): its requests keep their order, so the
	// parameters reach it before any signing request of this channel.
	if c.funded() && c.remote.Pubkeys.FundingPubkey != nil {
		if err := c.provideParams(); err != nil && !signerPending(err) {
			r.Fail("the signer refused channel %s's parameters: %v", c.channelID, err)
			return nil
		}
	}
	return c
}

// ReadArgs are what Read needs besides the data: the same components New takes, and the monitors read
// back from storage (every one, so that channels can be reconciled with them), already loaded into
// Watch (ChainMonitor.LoadMonitor): reconciling may hand them updates (a channel closed again).
type ReadArgs struct {
	FeeEstimator chaininterface.FeeEstimator
	Watch        Watch
	Broadcaster  chaininterface.BroadcasterInterface
	Logger       *slog.Logger
	Keys         KeysInterface
	Config       config.UserConfig
	Net          *chaincfg.Params
	Monitors     []*channelmonitor.ChannelMonitor
}

// readOutboundPaths reads a payment's paths (version 3); versions 1-2 had one path, resolved once the
// payment was done.
func readOutboundPaths(r *ser.Reader, o *outboundPayment, version uint8) []outboundPath {
	if version < 3 {
		st := pathInFlight
		if o.Done {
			st = pathFailed
		}
		return []outboundPath{{FeeMsat: o.FeeMsat, AmountMsat: o.AmountMsat, State: st}}
	}
	n := r.Count(17)
	paths := make([]outboundPath, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		p := outboundPath{FeeMsat: r.U64(), State: pathState(r.U8()), AmountMsat: r.U64()}
		if p.State > pathSucceeded {
			r.Fail("payment %x: path state %d", o.ID, p.State)
		}
		paths = append(paths, p)
	}
	rs, err := decodeRetry(r.Var())
	if err != nil {
		r.Fail("payment %x: %v", o.ID, err)
	}
	o.Retry = rs
	o.Probe = r.Bool()
	return paths
}

// readHTLCSource reads an HTLC's source: encodeSource's bytes (version 3), or the payment id and
// shared secrets versions 1-2 wrote (a pathSource for an HTLC we offered).
func readHTLCSource(r *ser.Reader, h *htlc, version uint8) htlcSource {
	if version >= 3 {
		src, err := decodeSource(r.Var())
		if err != nil {
			r.Fail("htlc %d: %v", h.ID, err)
		}
		return src
	}
	ps := &pathSource{PaymentID: r.Fixed32()}
	k := r.Count(32)
	for j := 0; j < k; j++ {
		ps.SharedSecrets = append(ps.SharedSecrets, r.Fixed32())
	}
	if h.Incoming {
		return nil
	}
	return ps
}

// Read restores a ChannelManager written by Write. Each channel is checked against its monitor: a
// channel whose monitor is missing is dropped with a log line (it closed before the snapshot's monitor
// was written), and a channel whose snapshot is older than its monitor — the manager was not persisted
// after the latest update — resumes from the snapshot through channel_reestablish (see the comment in
// Read; a host should write the manager before it sends the messages a change produced).
// Errors: ErrCorrupt.
func Read(data []byte, a ReadArgs) (*ChannelManager, error) {
	r := ser.NewReader(data)
	version := r.U8()
	if version == 0 || version > managerVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, version)
	}
	best := chaininterface.BestBlock{Hash: r.Hash(), Height: r.U32()}
	cm, err := newForRead(a, best)
	if err != nil {
		return nil, err
	}
	cm.highestBlockTime = r.U32()
	monitors := monitorsByOutPoint(a.Monitors)
	var fx readFixups
	n := r.Count(500)
	for i := 0; i < n; i++ {
		c := readChannel(r, a.Keys, version)
		if c == nil {
			break
		}
		cm.restoreChannel(c, monitors, &fx)
	}
	k := r.Count(32 + 32 + 8 + 2 + 8)
	for i := 0; i < k; i++ {
		cm.restoreExpected(readExpected(r))
	}
	k = r.Count(32 + 8 + 1 + 33 + 4)
	for i := 0; i < k; i++ {
		c := readClaimable(r, version)
		if c == nil {
			break
		}
		cm.restoreClaimable(c)
	}
	k = r.Count(32 + 32 + 8 + 8 + 1)
	for i := 0; i < k; i++ {
		cm.outbound.restore(readOutbound(r, version))
	}
	if version >= 3 {
		cm.readForwards(r)
		cm.readEvents(r)
		cm.reannounceIntercepts()
	}
	cm.readGossip(r)
	if r.Err() != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, r.Err())
	}
	cm.finishRead(a.Monitors, monitors, &fx)
	return cm, nil
}

// newForRead creates the manager Read and ReadFromStore fill.
func newForRead(a ReadArgs, best chaininterface.BestBlock) (*ChannelManager, error) {
	return New(a.FeeEstimator, a.Watch, a.Broadcaster, a.Logger, a.Keys, a.Config, ChainParams{Net: a.Net, BestBlock: best})
}

func monitorsByOutPoint(ms []*channelmonitor.ChannelMonitor) map[wire.OutPoint]*channelmonitor.ChannelMonitor {
	out := make(map[wire.OutPoint]*channelmonitor.ChannelMonitor, len(ms))
	for _, m := range ms {
		out[m.FundingTxo()] = m
	}
	return out
}

// readFixups are what restoring the channels found to do once everything is read (finishRead).
type readFixups struct {
	closedByMonitor, spentByMonitor []*channel
	// behindMonitor are channels whose monitor lacks updates the manager handed it (asynchronous
	// persistence, the host died before the writes): finishRead hands them over again.
	behindMonitor []behindChannel
}

// behindChannel is a channel ahead of its monitor, with the updates its record kept in flight.
type behindChannel struct {
	c        *channel
	inFlight []*channelmonitor.ChannelMonitorUpdate
}

// restoreChannel adds a channel read back, checked against its monitor: dropped without one, resumed
// through channel_reestablish when older than it, and noted in fx when its monitor was force-closed or
// saw the funding output spent since.
func (cm *ChannelManager) restoreChannel(c *channel, monitors map[wire.OutPoint]*channelmonitor.ChannelMonitor, fx *readFixups) {
	mon := monitors[c.fundingOutPoint]
	inFlight := c.inFlightUpdates // as the record kept them (ReadFromStore); nothing is in flight now
	c.inFlightUpdates = nil
	switch {
	case mon == nil:
		cm.log.Warn("no monitor for channel; dropping it", "channel", c.channelID)
		return
	case mon.LatestUpdateID() > c.latestMonitorUpdateID:
		// The host crashed after the monitor persisted an update and before it wrote the manager.
		// If the peer never saw the messages that update led to (a host that writes the manager
		// before it flushes messages guarantees it), channel_reestablish resumes from the manager's
		// state: the peer retransmits what we lost, and the monitor, which keeps every commitment
		// it was given, takes the repeated updates. If the peer did see them, reestablish finds us
		// behind and the channel is closed, from the monitor's commitment, which is the newest and
		// never revoked. Either way the channel is not closed on this alone.
		cm.log.Warn("channel state older than its monitor; resuming with channel_reestablish", "channel", c.channelID,
			"manager_update", c.latestMonitorUpdateID, "monitor_update", mon.LatestUpdateID())
		c.latestMonitorUpdateID = mon.LatestUpdateID()
	case mon.LatestUpdateID() < c.latestMonitorUpdateID:
		fx.behindMonitor = append(fx.behindMonitor, behindChannel{c, inFlight})
	}
	// Commitments the monitor holds that this snapshot never signed were lost with the crash before
	// their messages left.
	signed := c.remoteCommitNum
	if c.awaitingRAA {
		signed++
	}
	mon.CounterpartyCommitmentsUnsent(signed)
	// No peer is connected at start-up: apply the disconnection rules (forget the peer's
	// uncommitted updates) so that channel_reestablish starts from the committed state.
	c.peerDisconnected()
	cm.peer(c.counterparty, true).channels[c.channelID] = c
	if spent, _ := mon.FundingSpent(); spent {
		fx.spentByMonitor = append(fx.spentByMonitor, c)
	} else if c.state != stateClosed && mon.ForceClosed() {
		fx.closedByMonitor = append(fx.closedByMonitor, c)
	}
}

func (cm *ChannelManager) restoreExpected(p *inboundPayment) {
	cm.inbound.expected[sha256Sum(p.Preimage)] = p
}

// restoreClaimable adds a payment being received. PaymentClaimable is not persisted: what was
// claimable and not yet claimed is announced again, so that the host claims it (events are
// at-least-once; ClaimFunds is idempotent per payment hash).
func (cm *ChannelManager) restoreClaimable(c *claimablePayment) {
	cm.inbound.claimable[c.Hash] = c
	if c.Announced {
		cm.pendingEvents = append(cm.pendingEvents, events.PaymentClaimable{ReceiverNodeID: cm.ourNode, PaymentHash: c.Hash,
			AmountMsat: c.receivedMsat(), Purpose: c.Purpose, ViaChannelID: c.Parts[0].ChannelID, ClaimDeadline: c.claimDeadline()})
	}
}

// finishRead ends the channels the monitors closed since the snapshot, learns again the on-chain
// outcomes the monitors reported, which may not have reached the snapshot (idempotent for payments
// already settled), and reconciles outbound payments with them.
func (cm *ChannelManager) finishRead(monitors []*channelmonitor.ChannelMonitor, byOP map[wire.OutPoint]*channelmonitor.ChannelMonitor, fx *readFixups) {
	for _, b := range fx.behindMonitor {
		cm.replayMonitorUpdates(b.c, byOP[b.c.fundingOutPoint], b.inFlight)
	}
	// The monitor of a channel open in the snapshot was force-closed since (the host crashed before it
	// wrote the manager again): the channel closes again rather than resume, which would sign and
	// revoke commitments while ours is on its way to the chain.
	for _, c := range fx.closedByMonitor {
		msg := "channel force-closed before the restart"
		ps := cm.peer(c.counterparty, false)
		ps.mu.Lock()
		cm.apply(ps, c, c.failWithError(msg, closure{events.HolderForceClosed, msg, true}))
		ps.mu.Unlock()
	}
	// The funding output of a channel the snapshot holds is spent on chain: the monitor's event saying
	// so was not handled before the restart, and will not come again. The channel ends as that event
	// would have ended it.
	for _, c := range fx.spentByMonitor {
		cl := closure{events.CommitmentTxConfirmed, "commitment transaction confirmed", false}
		if _, coop := byOP[c.fundingOutPoint].FundingSpent(); coop {
			cl = closure{events.CooperativeClosure, "closing transaction confirmed", false}
		}
		ps := cm.peer(c.counterparty, false)
		ps.mu.Lock()
		cm.closeChannelLocked(ps, c, cl)
		delete(ps.channels, c.channelID)
		ps.mu.Unlock()
	}
	for _, m := range monitors {
		for _, ev := range m.ResolvedHTLCs() {
			cm.handleHTLCEvent(ev)
		}
	}
	cm.reconcileOutbound(monitors)
	cm.wake.Notify() // what was read may call for work (events, reestablish) before anything else happens
}

// replayMonitorUpdates hands a channel's monitor, again, the updates the manager had handed it and the
// monitor lost (LDK replays its in-flight updates the same way): they were in flight, persisted
// asynchronously, when the host died, so nothing that depended on them left. If the channel's record
// does not hold every missing update (a record from Write's snapshot, which does not keep them), the
// manager's state cannot be matched with the monitor's, and the channel fails: the monitor's latest
// commitment is safe to broadcast, since the revocation the lost updates led to never left.
func (cm *ChannelManager) replayMonitorUpdates(c *channel, mon *channelmonitor.ChannelMonitor, inFlight []*channelmonitor.ChannelMonitorUpdate) {
	have := mon.LatestUpdateID()
	var missing []*channelmonitor.ChannelMonitorUpdate
	for _, u := range inFlight {
		if u.UpdateID > have {
			missing = append(missing, u)
		}
	}
	ps := cm.peer(c.counterparty, false)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	next := have + 1
	for _, u := range missing {
		if u.UpdateID != next {
			break
		}
		next++
	}
	if next != c.latestMonitorUpdateID+1 {
		cm.log.Error("channel state ahead of its monitor and the updates between are lost; failing the channel",
			"channel", c.channelID, "manager_update", c.latestMonitorUpdateID, "monitor_update", have)
		msg := "channel state ahead of its monitor after a restart"
		c.latestMonitorUpdateID = have // the force close is the monitor's next update, which it takes
		cm.apply(ps, c, c.failWithError(msg, closure{events.HolderForceClosed, msg, true}))
		return
	}
	cm.log.Info("handing the monitor the updates it lost in a crash", "channel", c.channelID, "from", have+1, "to", c.latestMonitorUpdateID)
	for _, u := range missing {
		status := cm.watch.UpdateChannel(c.fundingOutPoint, u)
		switch status {
		case channelmonitor.InProgress:
			c.inFlightUpdates = append(c.inFlightUpdates, u)
		case channelmonitor.UnrecoverableError:
			cm.monitorUpdateFailed(ps, c, u.UpdateID)
			return
		}
	}
	cm.markNeedsPersist()
}
