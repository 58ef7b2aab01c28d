package channelmonitor

import (
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
)

// claimKind says what output a claim spends and how (BOLT 5). The values are persisted: never renumber.
type claimKind uint8

const (
	// claimHolderToLocal: our to_local on our commitment, with the delayed key after to_self_delay.
	claimHolderToLocal claimKind = 1
	// claimHolderHTLCTimeout: an HTLC we offered, on our commitment: our HTLC-timeout transaction
	// (pre-signed by the counterparty) after cltv_expiry.
	claimHolderHTLCTimeout claimKind = 2
	// claimHolderHTLCSuccess: an HTLC offered to us, on our commitment: our HTLC-success transaction,
	// once we hold the preimage.
	claimHolderHTLCSuccess claimKind = 3
	// claimHolderSecondStage: the output of our HTLC-timeout/success transaction, after to_self_delay.
	claimHolderSecondStage claimKind = 4
	// claimToRemote: our to_remote on the counterparty's commitment (1-block CSV with anchors).
	claimToRemote claimKind = 5
	// claimCounterpartyHTLCPreimage: an HTLC offered to us, on the counterparty's commitment: spent
	// directly with the preimage.
	claimCounterpartyHTLCPreimage claimKind = 6
	// claimCounterpartyHTLCTimeout: an HTLC we offered, on the counterparty's commitment: spent
	// directly after cltv_expiry.
	claimCounterpartyHTLCTimeout claimKind = 7
	// claimRevokedToLocal: the to_local of a revoked counterparty commitment, with the revocation key.
	claimRevokedToLocal claimKind = 8
	// claimRevokedHTLC: an HTLC output of a revoked counterparty commitment, with the revocation key.
	claimRevokedHTLC claimKind = 9
	// claimRevokedSecondStage: the output of the counterparty's HTLC transaction spending a revoked
	// commitment's HTLC output, with the revocation key before their to_self_delay passes.
	claimRevokedSecondStage claimKind = 10
)

func (k claimKind) String() string {
	switch k {
	case claimHolderToLocal:
		return "holder to_local"
	case claimHolderHTLCTimeout:
		return "holder HTLC-timeout"
	case claimHolderHTLCSuccess:
		return "holder HTLC-success"
	case claimHolderSecondStage:
		return "holder second-stage"
	case claimToRemote:
		return "to_remote"
	case claimCounterpartyHTLCPreimage:
		return "counterparty HTLC preimage"
	case claimCounterpartyHTLCTimeout:
		return "counterparty HTLC timeout"
	case claimRevokedToLocal:
		return "revoked to_local"
	case claimRevokedHTLC:
		return "revoked HTLC"
	case claimRevokedSecondStage:
		return "revoked second-stage"
	}
	return "unknown claim"
}

// revoked says whether the claim takes the counterparty's funds with a revocation key.
func (k claimKind) revoked() bool {
	return k == claimRevokedToLocal || k == claimRevokedHTLC || k == claimRevokedSecondStage
}

// ownOutput says whether the output is ours alone (no counterparty spending path).
func (k claimKind) ownOutput() bool {
	return k == claimHolderToLocal || k == claimHolderSecondStage || k == claimToRemote
}

// claimHTLC is the HTLC a claim is about.
type claimHTLC struct {
	ID          uint64
	OfferedByUs bool
	AmountMsat  uint64
	PaymentHash [32]byte
	CltvExpiry  uint32
	Source      []byte
	// CounterpartySig is their signature on our second-stage transaction (holder HTLC claims).
	CounterpartySig lnwire.Sig
}

// claim is one output the monitor may spend (DESIGN-NOTES "On-chain claims"; LDK's PackageSolvingData).
// It lives from the moment the transaction creating the output confirms until the output's spend is
// AntiReorgDelay deep; a reorganisation that removes either brings it back or removes it.
type claim struct {
	Kind     claimKind
	OutPoint wire.OutPoint
	ValueSat int64
	// Script is the witness script of a P2WSH output, or the P2WPKH pkScript of a static to_remote.
	Script []byte
	// CommitmentNumber is the commitment the output descends from; PerCommitmentPoint its owner's point
	// (the counterparty's for their commitment, ours for ours). Revoked claims derive the secret from
	// CommitmentNumber.
	CommitmentNumber   uint64
	PerCommitmentPoint *btcec.PublicKey
	HTLC               *claimHTLC
	// ParentHeight is the height at which the transaction creating the output confirmed.
	ParentHeight uint32
	// ValidHeight is the first block height that can include a spend (CLTV, CSV); Deadline the height
	// from which the counterparty can take the output (0: never).
	ValidHeight uint32
	Deadline    uint32
	// SpentBy and SpentAt record the confirmed spend (SpentAt 0: unspent); SpentByUs says it was our
	// claim. Resolved is set once the spend is AntiReorgDelay deep.
	SpentBy   chainhash.Hash
	SpentAt   uint32
	SpentByUs bool
	Resolved  bool
	// Uneconomical: worth less than the fee to claim it; left on chain and out of the balances.
	Uneconomical bool
	// Package is the package the claim is planned in (0: none yet).
	Package uint64
}

// spent says whether the output's spend is confirmed in our view of the chain.
func (c *claim) spent() bool { return c.SpentAt != 0 }

// packageClass says which claims may share a transaction. Values are persisted.
type packageClass uint8

const (
	// classSweep: our own outputs (to_local, to_remote, second-stage): no deadline.
	classSweep packageClass = 1
	// classJustice: revoked outputs, taken before the counterparty's to_self_delay passes.
	classJustice packageClass = 2
	// classCounterpartyPreimage: HTLCs on the counterparty's commitment claimed with a preimage.
	classCounterpartyPreimage packageClass = 3
	// classCounterpartyTimeout: HTLCs on the counterparty's commitment taken back after expiry; one
	// package per nLockTime.
	classCounterpartyTimeout packageClass = 4
	// classHolderHTLC: one pre-signed HTLC-timeout/success transaction of a non-anchor channel (its fee
	// is fixed; it is rebroadcast as is).
	classHolderHTLC packageClass = 5
	// classHolderHTLCAnchor: HTLC-timeout/success of an anchor channel, given to the host as a
	// BumpHTLCResolution event; one package per nLockTime.
	classHolderHTLCAnchor packageClass = 6
)

// classOf returns the class a ready claim is planned in and its transaction's nLockTime.
func (m *ChannelMonitor) classOf(c *claim) (packageClass, uint32) {
	switch c.Kind {
	case claimRevokedToLocal, claimRevokedHTLC, claimRevokedSecondStage:
		return classJustice, 0
	case claimCounterpartyHTLCPreimage:
		return classCounterpartyPreimage, 0
	case claimCounterpartyHTLCTimeout:
		return classCounterpartyTimeout, c.HTLC.CltvExpiry
	case claimHolderHTLCTimeout, claimHolderHTLCSuccess:
		lock := uint32(0)
		if c.Kind == claimHolderHTLCTimeout {
			lock = c.HTLC.CltvExpiry
		}
		if m.params.Anchors {
			return classHolderHTLCAnchor, lock
		}
		return classHolderHTLC, lock
	}
	return classSweep, 0
}

// claimPackage is a set of claims spent by one transaction (LDK's PackageTemplate). A package only
// shrinks: a member whose output the counterparty spends first is dropped, and the rest go on in a new
// version of the transaction. Claims that become ready later form new packages.
type claimPackage struct {
	ID        uint64
	Class     packageClass
	LockTime  uint32
	OutPoints []wire.OutPoint
	// Created is the height the package was formed at; Deadline the earliest member deadline (0: none).
	Created  uint32
	Deadline uint32
	// FeeratePerKw and Tx are the last version built (Tx nil for anchor HTLC packages, whose
	// transactions the host builds); Txids lists every version, to recognise our spends.
	FeeratePerKw uint32
	Tx           *wire.MsgTx
	Txids        []chainhash.Hash
	// ConfHeight is the height a version confirmed at (0: unconfirmed), ConfTx that version.
	ConfHeight uint32
	ConfTx     *wire.MsgTx
	// Members changed since Tx was built: rebuild before rebroadcasting.
	Stale bool
}

func (p *claimPackage) has(op wire.OutPoint) bool {
	for _, o := range p.OutPoints {
		if o == op {
			return true
		}
	}
	return false
}

func (p *claimPackage) ours(txid chainhash.Hash) bool {
	for _, t := range p.Txids {
		if t == txid {
			return true
		}
	}
	return false
}

func (p *claimPackage) remove(op wire.OutPoint) {
	kept := p.OutPoints[:0]
	for _, o := range p.OutPoints {
		if o != op {
			kept = append(kept, o)
		}
	}
	p.OutPoints = kept
	p.Stale = true
}
