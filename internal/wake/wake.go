// Package wake is the signal a library component gives its host when there is work to pull (LDK's
// Notifier and Future): a channel that is closed once work is pending. It needs no goroutine: Notify
// closes the channel the host may be waiting on, or, when the host is not waiting, remembers the
// notification so that the next channel handed out is already closed.
package wake

import "sync"

// closed is a channel that is always closed.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Notifier delivers each notification to one waiter. The zero Notifier is ready. Safe for concurrent use.
type Notifier struct {
	mu      sync.Mutex
	ch      chan struct{} // handed out and not yet closed; nil if none
	pending bool          // notified while nobody held a channel
}

// Notify signals that work is pending: the outstanding channel is closed, or, if there is none, the
// next one handed out is.
func (n *Notifier) Notify() {
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	} else {
		n.pending = true
	}
	n.mu.Unlock()
}

// Wait returns a channel that is closed once Notify is called (at once if it was called since the last
// channel was closed). Callers waiting together share one channel. After it fires, the host does its
// work (pulling events, messages, persisting) and calls Wait again.
func (n *Notifier) Wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pending {
		n.pending = false
		return closed
	}
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}
