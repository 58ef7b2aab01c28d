package testchain

import (
	"sync"

	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
)

// ListenerProxy is a chaininterface.Listen that hands blocks to a node's current components: register
// it with the chain once, and Set the components again when the node restarts, so that the new ones
// get the blocks and the old ones no longer do. Safe for concurrent use.
type ListenerProxy struct {
	mu        sync.Mutex
	listeners []chaininterface.Listen
}

// Set replaces the listeners blocks go to.
func (p *ListenerProxy) Set(ls ...chaininterface.Listen) {
	p.mu.Lock()
	p.listeners = ls
	p.mu.Unlock()
}

// Get returns the current listeners.
func (p *ListenerProxy) Get() []chaininterface.Listen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listeners
}

// BlockConnected implements chaininterface.Listen.
func (p *ListenerProxy) BlockConnected(b *wire.MsgBlock, h uint32) {
	for _, l := range p.Get() {
		l.BlockConnected(b, h)
	}
}

// BlockDisconnected implements chaininterface.Listen.
func (p *ListenerProxy) BlockDisconnected(hd *wire.BlockHeader, h uint32) {
	for _, l := range p.Get() {
		l.BlockDisconnected(hd, h)
	}
}
