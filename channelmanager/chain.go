package channelmanager

import (
	"bytes"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// The ChannelManager implements both chaininterface.Listen and chaininterface.Confirm.
var (
	_ chaininterface.Listen  = (*ChannelManager)(nil)
	_ chaininterface.Confirm = (*ChannelManager)(nil)
)

// BlockConnected implements chaininterface.Listen: the block's transactions are checked for funding
// confirmations, then the tip moves.
func (cm *ChannelManager) BlockConnected(block *wire.MsgBlock, height uint32) {
	txs := make([]chaininterface.IndexedTx, len(block.Transactions))
	for i, tx := range block.Transactions {
		txs[i] = chaininterface.IndexedTx{Index: i, Tx: tx}
	}
	cm.TransactionsConfirmed(&block.Header, txs, height)
	cm.BestBlockUpdated(&block.Header, height)
}

// BlockDisconnected implements chaininterface.Listen: funding confirmations in the removed block are
// forgotten.
func (cm *ChannelManager) BlockDisconnected(header *wire.BlockHeader, height uint32) {
	cm.mu.Lock()
	cm.bestBlock = chaininterface.BestBlock{Hash: header.PrevBlock, Height: height - 1}
	cm.mu.Unlock()
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			if c.fundingConfHeight >= height {
				c.fundingConfHeight = 0
				c.shortChannelID = lnwire.ShortChannelID{}
			}
		}
		ps.mu.Unlock()
	}
	cm.markNeedsPersist()
}

// TransactionsConfirmed implements chaininterface.Confirm: it records funding transaction
// confirmations (and the short_channel_id they give).
func (cm *ChannelManager) TransactionsConfirmed(header *wire.BlockHeader, txdata []chaininterface.IndexedTx, height uint32) {
	if len(txdata) == 0 {
		return
	}
	if header != nil {
		cm.mu.Lock()
		if t := uint32(header.Timestamp.Unix()); t > cm.highestBlockTime {
			cm.highestBlockTime = t
		}
		cm.mu.Unlock()
	}
	byTxid := make(map[chainhash.Hash]chaininterface.IndexedTx, len(txdata))
	for _, t := range txdata {
		byTxid[t.Tx.TxHash()] = t
	}
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			if c.state < stateAwaitingChannelReady || c.state == stateAwaitingManualAccept || c.fundingConfHeight != 0 {
				continue
			}
			t, ok := byTxid[c.fundingOutPoint.Hash]
			if !ok {
				continue
			}
			idx := c.fundingOutPoint.Index
			if int(idx) >= len(t.Tx.TxOut) || t.Tx.TxOut[idx].Value != c.valueSat || !bytes.Equal(t.Tx.TxOut[idx].PkScript, c.fundingPkScript) {
				cm.failChannel(ps, c, c.protoErr("funding transaction does not pay the agreed funding output"))
				continue
			}
			c.fundingConfHeight = height
			c.shortChannelID = lnwire.ShortChannelID{BlockHeight: height, TxIndex: uint32(t.Index), OutputIndex: uint16(idx)}
			cm.markNeedsPersist()
		}
		ps.mu.Unlock()
	}
}

// TransactionUnconfirmed implements chaininterface.Confirm.
func (cm *ChannelManager) TransactionUnconfirmed(txid chainhash.Hash) {
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			if c.fundingOutPoint.Hash == txid && c.fundingConfHeight != 0 {
				c.fundingConfHeight = 0
				c.shortChannelID = lnwire.ShortChannelID{}
			}
		}
		ps.mu.Unlock()
	}
}

// BestBlockUpdated implements chaininterface.Confirm: channels whose funding is deep enough send
// `channel_ready`; incoming HTLCs of payments not claimed by their claim deadline
// (PaymentClaimable.ClaimDeadline) are failed back.
func (cm *ChannelManager) BestBlockUpdated(header *wire.BlockHeader, height uint32) {
	cm.mu.Lock()
	if header != nil {
		cm.bestBlock = chaininterface.BestBlock{Hash: header.BlockHash(), Height: height}
		if t := uint32(header.Timestamp.Unix()); t > cm.highestBlockTime {
			cm.highestBlockTime = t
		}
	} else {
		cm.bestBlock.Height = height
	}
	cm.mu.Unlock()
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			// Going on chain for an HTLC's deadline is the monitor's decision (HolderForceClosed), so
			// that it is made even when the manager is not running.
			cm.apply(ps, c, c.maybeSendChannelReady(height))
			cm.maybeGossip(ps, c)
			// A channel we opened whose funding never confirmed is abandoned after two weeks.
			if c.state == stateAwaitingChannelReady && c.fundingConfHeight == 0 && !c.outbound && height > c.createdHeight+2016 {
				cm.closeChannelLocked(ps, c, closure{events.FundingAbandoned, "funding transaction did not confirm in 2016 blocks", false})
			}
		}
		ps.mu.Unlock()
	}
	cm.failExpiringClaimables(height)
	cm.forgetExpiredInvoices()
	cm.failExpiringIntercepts(height)
	cm.markNeedsPersist()
}

// GetRelevantTxids implements chaininterface.Confirm: the confirmed funding transactions.
func (cm *ChannelManager) GetRelevantTxids() []chaininterface.RelevantTx {
	var out []chaininterface.RelevantTx
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			if c.fundingConfHeight != 0 {
				out = append(out, chaininterface.RelevantTx{Txid: c.fundingOutPoint.Hash, Height: c.fundingConfHeight})
			}
		}
		ps.mu.Unlock()
	}
	return out
}

// TimerTickOccurred does periodic work; call it about once a minute. The funder of each channel sends
// `update_fee` when the fee estimate moved by more than ChannelConfig.FeeUpdateThresholdPercent,
// multi-part payments still incomplete after MPPTimeoutTicks ticks are failed back, pending
// updates are committed, and public channels get their channel_updates (disabled after
// DisableGossipTicks ticks without the peer, enabled again after EnableGossipTicks, rebroadcast every
// RebroadcastTicks).
func (cm *ChannelManager) TimerTickOccurred() {
	defer cm.flushDirty()
	defer cm.timeoutIncompleteMPP()
	defer cm.forgetFinishedPayments()
	defer cm.countRetryTicks()
	defer cm.gossipTimerTick()
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			if !c.outbound || !c.isUsable() {
				continue
			}
			target := chaininterface.NonAnchorChannelFee
			if c.channelType.HasAnchors() {
				target = chaininterface.AnchorChannelFee
			}
			want := chaininterface.ClampFeerate(cm.feeEst, target)
			cur := c.projectedView(false).feeratePerKw
			thr := uint64(cm.cfg.ChannelConfig.FeeUpdateThresholdPercent)
			diff := int64(want) - int64(cur)
			if diff < 0 {
				diff = -diff
			}
			if uint64(diff)*100 <= uint64(cur)*thr {
				continue
			}
			eff, err := c.sendUpdateFee(want, cm.cfg.ChannelConfig.MaxDustHTLCExposureMsat)
			cm.apply(ps, c, eff)
			if err != nil {
				cm.log.Warn("cannot update fee", "channel", c.channelID, "feerate", want, "err", err)
			}
		}
		ps.mu.Unlock()
	}
}
