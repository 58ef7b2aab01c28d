package policy

import (
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/lnkit/lnkit/keys"
)

// htlcRec is an HTLC as the policy keeps it: seen from the HOLDER, whichever commitment it is on.
type htlcRec struct {
	// outgoing is true when the holder offered the HTLC (it pays the counterparty on success): Offered
	// on a holder commitment, !Offered on a counterparty commitment.
	outgoing   bool
	amountMsat uint64
	hash       [32]byte
	cltv       uint32
	// outIndex is its output in the commitment transaction, -1 when trimmed.
	outIndex int32
}

// commitRec is a commitment the policy accepted (a holder commitment validated, or a counterparty
// commitment signed). Records are never changed once made, so state clones share them.
type commitRec struct {
	num     uint64
	txid    chainhash.Hash
	point   *btcec.PublicKey // the broadcaster's per-commitment point
	feerate uint32           // sat per 1000 weight units
	// toHolderMsat and toCounterpartyMsat are the balances before fee and anchors, HTLCs excluded.
	toHolderMsat, toCounterpartyMsat uint64
	htlcs                            []htlcRec
	// paid is, per payment hash, what this commitment's chain has shown paid out in fulfilled outgoing
	// HTLCs up to this commitment (kept while the hash has a usable approval or an incoming HTLC).
	paid map[[32]byte]uint64
}

// newRec records commitment c (the holder's when holder) with txid.
func newRec(c *keys.CommitmentTx, txid chainhash.Hash, holder bool) *commitRec {
	r := &commitRec{num: c.CommitmentNumber, txid: txid, point: c.PerCommitmentPoint, feerate: c.FeeratePerKw,
		toHolderMsat: c.ToBroadcasterMsat, toCounterpartyMsat: c.ToCountersignatoryMsat}
	if !holder {
		r.toHolderMsat, r.toCounterpartyMsat = c.ToCountersignatoryMsat, c.ToBroadcasterMsat
	}
	r.htlcs = make([]htlcRec, len(c.HTLCs))
	for i, h := range c.HTLCs {
		r.htlcs[i] = htlcRec{outgoing: h.Offered == holder, amountMsat: h.AmountMsat, hash: h.PaymentHash,
			cltv: h.CltvExpiry, outIndex: h.OutputIndex}
	}
	return r
}

// value is what the holder can claim from the commitment, in msat: its balance plus the HTLCs it
// offered (they come back unless the payee reveals the preimage).
func (r *commitRec) value() uint64 {
	v := r.toHolderMsat
	for _, h := range r.htlcs {
		if h.outgoing {
			v = addSat(v, h.amountMsat)
		}
	}
	return v
}

// sums returns the total per payment hash of the outgoing (or incoming) HTLCs.
func (r *commitRec) sums(outgoing bool) map[[32]byte]uint64 {
	m := map[[32]byte]uint64{}
	for _, h := range r.htlcs {
		if h.outgoing == outgoing {
			m[h.hash] = addSat(m[h.hash], h.amountMsat)
		}
	}
	return m
}

// htlcKey identifies an HTLC across commitments (two identical HTLCs are counted as a multiset).
type htlcKey struct {
	outgoing   bool
	amountMsat uint64
	hash       [32]byte
	cltv       uint32
}

// added returns the HTLCs of next that are not in prev (as multisets); prev may be nil.
func added(prev, next *commitRec) []htlcRec {
	count := map[htlcKey]int{}
	if prev != nil {
		for _, h := range prev.htlcs {
			count[htlcKey{h.outgoing, h.amountMsat, h.hash, h.cltv}]++
		}
	}
	var out []htlcRec
	for _, h := range next.htlcs {
		k := htlcKey{h.outgoing, h.amountMsat, h.hash, h.cltv}
		if count[k] > 0 {
			count[k]--
			continue
		}
		out = append(out, h)
	}
	return out
}

// chanState is everything the policy knows of one channel. It is persisted whole (encode.go).
type chanState struct {
	// params are the channel's parameters, fixed at the first ProvideChannelParameters.
	params *keys.ChannelTransactionParameters
	// holder are the validated holder commitments not yet revoked, ascending; the last is the latest.
	holder []*commitRec
	// holderRevokedNext: our secrets for holder commitments below it were released.
	holderRevokedNext uint64
	// holderBroadcast is 1 + the number of the first holder commitment signed for broadcast, 0 none.
	holderBroadcast uint64
	// cp are the counterparty commitments we signed and they have not revoked, ascending.
	cp []*commitRec
	// cpRevokedNext: the counterparty revoked its commitments below it.
	cpRevokedNext uint64
}

// clone returns a copy that can be changed without changing s (records are shared, never changed).
func (s *chanState) clone() *chanState {
	c := *s
	c.holder = append([]*commitRec(nil), s.holder...)
	c.cp = append([]*commitRec(nil), s.cp...)
	return &c
}

// latestHolder and latestCp return the latest record of each chain, nil when there is none.
func (s *chanState) latestHolder() *commitRec {
	if len(s.holder) == 0 {
		return nil
	}
	return s.holder[len(s.holder)-1]
}

func (s *chanState) latestCp() *commitRec {
	if len(s.cp) == 0 {
		return nil
	}
	return s.cp[len(s.cp)-1]
}

// flow is one channel's part in one payment hash, in msat. out is what the holder may lose to it: the
// largest, over every commitment that can still confirm, of what its chain paid for the hash plus its
// outgoing HTLCs for the hash. in is what the holder can surely claim: the smallest incoming total
// over the latest holder commitment and every unrevoked counterparty commitment (an incoming HTLC
// counts once no commitment that can confirm lacks it, and only once both chains have one).
type flow struct{ out, in uint64 }

// flows returns the channel's flows per payment hash.
func (s *chanState) flows() map[[32]byte]flow {
	m := map[[32]byte]flow{}
	for _, list := range [][]*commitRec{s.holder, s.cp} {
		for _, r := range list {
			exposure := r.sums(true)
			for h, v := range r.paid {
				exposure[h] = addSat(exposure[h], v)
			}
			for h, v := range exposure {
				f := m[h]
				f.out = max(f.out, v)
				m[h] = f
			}
		}
	}
	if lh := s.latestHolder(); lh != nil && len(s.cp) > 0 {
		in := lh.sums(false)
		for _, r := range s.cp {
			rs := r.sums(false)
			for h, v := range in {
				in[h] = min(v, rs[h])
			}
		}
		for h, v := range in {
			if v > 0 {
				f := m[h]
				f.in = v
				m[h] = f
			}
		}
	}
	return m
}

// channel is one channel's state with its lock; every ChannelSigner derived for its keys id shares it.
type channel struct {
	id [32]byte
	// mu is held for a whole request of the channel (check, inner signature, persistence).
	mu sync.Mutex
	st *chanState
	// sweeps remembers, per transaction (txid without witness), the inputs signed from this channel and
	// their values, so that the fee of a sweep signed input by input is checked as a whole. In memory
	// only (see the package doc), at most maxSweeps transactions.
	sweeps []sweepRec
	// flows are the flows last registered in the Signer's index (guarded by Signer.mu).
	flows map[[32]byte]flow
}

// sweepRec is one sweep transaction being signed.
type sweepRec struct {
	txid   chainhash.Hash
	inputs map[int]int64 // input index → value in satoshis
}

// maxSweeps bounds channel.sweeps.
const maxSweeps = 8

// addSat adds without wrapping around.
func addSat(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}
