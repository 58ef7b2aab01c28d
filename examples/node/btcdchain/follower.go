package btcdchain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// Listener receives blocks in chain order: lnkit's chaininterface.Listen (ChannelManager, ChainMonitor) and
// the wallet implement it.
type Listener interface {
	// BlockConnected is called with each block connected to the best chain, at its height.
	BlockConnected(block *wire.MsgBlock, height uint32)
	// BlockDisconnected is called, tip first, with the header of each block removed by a reorganisation.
	BlockDisconnected(header *wire.BlockHeader, height uint32)
}

// ErrForeignChain: a listener's block, or the follower's, is unknown to btcd or forks below height 1 (a
// listener or state from another network).
var ErrForeignChain = errors.New("btcdchain: block not on btcd's chain")

// Follower follows btcd's best chain by polling and feeds its listeners. Each listener has its own
// position (the last block it was given), so listeners restored from states of different ages can share
// one follower: Poll first disconnects, tip first and in lockstep, every listener's blocks that left the
// best chain, then connects the missing blocks in height order, handing each block to every listener that
// is just below it, so listeners at the same height receive the same blocks in the same order and one that
// lags catches up before the others move on. The follower's own tip (Tip) moves the same way, as a
// listener that listens to nothing.
//
// Poll runs one at a time; listeners are called from inside Poll, without the follower's state lock held,
// so they may call Tip or AddListener (the new listener is served from the next Poll).
type Follower struct {
	src chainSource
	log *slog.Logger

	poll sync.Mutex // held for a whole Poll

	mu      sync.Mutex
	started bool // the follower's tip is known
	self    *cursor
	entries []*cursor
}

// cursor is a position on the chain, with the listener it belongs to (nil for the follower itself).
type cursor struct {
	l       Listener
	at      BlockRef
	pending bool // added with a zero start: takes the follower's tip at the next Poll
}

// NewFollower returns a follower of btcd's chain starting at start, the last block that listeners have
// already processed (for example a channel manager's or wallet's best block); each listener starts there.
// With a zero start the follower starts at btcd's tip, found by the first Poll, and delivers nothing for
// blocks before it (a fresh node). It does not contact btcd.
func (c *Client) NewFollower(start BlockRef, listeners ...Listener) *Follower {
	return newFollower(c.be, c.log, start, listeners...)
}

func newFollower(src chainSource, log *slog.Logger, start BlockRef, listeners ...Listener) *Follower {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Follower{src: src, log: log}
	f.started = start != (BlockRef{})
	f.self = &cursor{at: start}
	for _, l := range listeners {
		if l != nil {
			f.entries = append(f.entries, &cursor{l: l, at: start, pending: !f.started})
		}
	}
	return f
}

// Tip returns the last block the follower delivered to all its listeners (zero before the first Poll of a
// follower started with a zero BlockRef).
func (f *Follower) Tip() BlockRef {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.self.at
}

// AddListener adds l, which has processed the chain up to from; the next Poll brings it up to the tip,
// disconnecting first any of its blocks that left btcd's best chain. A zero from means the follower's
// current tip (l needs no past blocks).
func (f *Follower) AddListener(from BlockRef, l Listener) {
	if l == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := &cursor{l: l, at: from}
	if from == (BlockRef{}) {
		if f.started {
			e.at = f.self.at
		} else {
			e.pending = true
		}
	}
	f.entries = append(f.entries, e)
}

// SyncListener adds l, which has processed the chain up to from (see AddListener), and polls at once so
// that it is brought up to btcd's tip (the other listeners move on too if btcd has new blocks). Errors:
// Poll's.
func (f *Follower) SyncListener(ctx context.Context, from BlockRef, l Listener) error {
	f.AddListener(from, l)
	_, err := f.Poll(ctx)
	return err
}

// ListenerTip returns the last block delivered to l (the first registration of l), and false if l is
// not registered.
func (f *Follower) ListenerTip(l Listener) (BlockRef, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.entries {
		if e.l == l {
			return e.at, true
		}
	}
	return BlockRef{}, false
}

// Synced reports whether the follower and every listener are at btcd's best block. Errors: btcd's or the
// context's.
func (f *Follower) Synced(ctx context.Context) (bool, error) {
	best, err := f.src.GetBestBlock(ctx)
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started || f.self.at != best {
		return false, nil
	}
	for _, e := range f.entries {
		if e.pending || e.at != best {
			return false, nil
		}
	}
	return true, nil
}

// Poll asks btcd for its best block and brings the follower and every listener to it: blocks that left
// the best chain are disconnected (BlockDisconnected with each header from getblockheader, which also
// serves stale blocks, newest first, down to the fork point), then every missing block is fetched
// (getblock) and connected in order. It reports whether any block was delivered or the tip moved.
//
// A failure or a cancelled context stops the poll where it is; positions already reached are kept, and
// the next Poll resumes. Errors: btcd's, the context's, or ErrForeignChain.
func (f *Follower) Poll(ctx context.Context) (changed bool, err error) {
	f.poll.Lock()
	defer f.poll.Unlock()

	best, err := f.src.GetBestBlock(ctx)
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	if !f.started {
		f.started = true
		f.self.at = best
		changed = true
	}
	for _, e := range f.entries {
		if e.pending {
			e.pending = false
			e.at = f.self.at
		}
	}
	cursors := append([]*cursor{f.self}, f.entries...)
	f.mu.Unlock()

	p := &pollState{f: f, ctx: ctx, best: best, mainHash: make(map[uint32]chainhash.Hash)}
	if err := p.disconnect(cursors, &changed); err != nil {
		return changed, err
	}
	if err := p.connect(cursors, &changed); err != nil {
		return changed, err
	}
	return changed, nil
}

// pollState caches what one Poll learned from btcd.
type pollState struct {
	f        *Follower
	ctx      context.Context
	best     BlockRef
	mainHash map[uint32]chainhash.Hash // best-chain hashes by height, as fetched during this poll
}

// onMain reports whether b is on btcd's best chain (as of this poll's best block).
func (p *pollState) onMain(b BlockRef) (bool, error) {
	if b.Height > p.best.Height {
		return false, nil
	}
	if b.Height == p.best.Height {
		return b.Hash == p.best.Hash, nil
	}
	h, ok := p.mainHash[b.Height]
	if !ok {
		var err error
		h, err = p.f.src.GetBlockHash(p.ctx, b.Height)
		if err != nil {
			return false, err
		}
		p.mainHash[b.Height] = h
	}
	return h == b.Hash, nil
}

// move sets a cursor's position under the follower's lock.
func (p *pollState) move(c *cursor, at BlockRef) {
	p.f.mu.Lock()
	c.at = at
	p.f.mu.Unlock()
}

// disconnect walks every cursor that is off the best chain back to it, highest blocks first.
func (p *pollState) disconnect(cursors []*cursor, changed *bool) error {
	for {
		// The highest off-chain position; every cursor there steps back one block.
		var top []*cursor
		var topHeight uint32
		for _, c := range cursors {
			on, err := p.onMain(c.at)
			if err != nil {
				return err
			}
			if on {
				continue
			}
			switch {
			case len(top) == 0 || c.at.Height > topHeight:
				top, topHeight = []*cursor{c}, c.at.Height
			case c.at.Height == topHeight:
				top = append(top, c)
			}
		}
		if len(top) == 0 {
			return nil
		}
		if topHeight == 0 {
			return fmt.Errorf("%w: genesis %v differs from btcd's", ErrForeignChain, top[0].at.Hash)
		}
		headers := make(map[chainhash.Hash]*wire.BlockHeader)
		for _, c := range top {
			hdr, ok := headers[c.at.Hash]
			if !ok {
				var err error
				hdr, err = p.f.src.GetBlockHeader(p.ctx, c.at.Hash)
				if err != nil {
					return fmt.Errorf("%w: block %v at %d: %v", ErrForeignChain, c.at.Hash, c.at.Height, err)
				}
				headers[c.at.Hash] = hdr
			}
			if c.l != nil {
				h := *hdr
				c.l.BlockDisconnected(&h, c.at.Height)
			}
			p.move(c, BlockRef{Hash: hdr.PrevBlock, Height: c.at.Height - 1})
			*changed = true
		}
		p.f.log.Info("reorganisation: block disconnected", "height", topHeight, "listeners", len(top))
		if err := p.ctx.Err(); err != nil {
			return err
		}
	}
}

// connect fetches the best chain's blocks above the lowest cursor and hands each to the cursors just below
// it. Every cursor is on the best chain when it starts.
func (p *pollState) connect(cursors []*cursor, changed *bool) error {
	low := p.best.Height
	for _, c := range cursors {
		if c.at.Height < low {
			low = c.at.Height
		}
	}
	for h := low + 1; h <= p.best.Height; h++ {
		hash, ok := p.mainHash[h]
		if !ok {
			if h == p.best.Height {
				hash = p.best.Hash
			} else {
				var err error
				hash, err = p.f.src.GetBlockHash(p.ctx, h)
				if err != nil {
					return err
				}
			}
		}
		blk, err := p.f.src.GetBlock(p.ctx, hash)
		if err != nil {
			return err
		}
		for _, c := range cursors {
			if c.at.Height != h-1 {
				continue
			}
			if c.at.Hash != blk.Header.PrevBlock {
				// btcd's chain changed under this poll; the next one sorts it out.
				p.f.log.Debug("chain changed during poll", "height", h)
				return nil
			}
			if c.l != nil {
				c.l.BlockConnected(blk.Copy(), h)
			}
			p.move(c, BlockRef{Hash: hash, Height: h})
			*changed = true
		}
		if err := p.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}
