package wake

import (
	"sync"
	"testing"
)

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestNotifier: a notification closes the channel being waited on; one made while nobody waits makes
// the next channel closed; each notification is delivered once.
func TestNotifier(t *testing.T) {
	var n Notifier
	c := n.Wait()
	if isClosed(c) {
		t.Fatal("closed before any notification")
	}
	if c2 := n.Wait(); c2 != c {
		t.Fatal("waiters at the same time must share one channel")
	}
	n.Notify()
	if !isClosed(c) {
		t.Fatal("Notify did not close the channel")
	}
	if isClosed(n.Wait()) {
		t.Fatal("a notification was delivered twice")
	}
	n.Notify() // the channel just handed out is closed
	n.Notify() // nobody waits: remembered
	if !isClosed(n.Wait()) {
		t.Fatal("a notification made while nobody waited was lost")
	}
	if isClosed(n.Wait()) {
		t.Fatal("the remembered notification was delivered twice")
	}
}

// TestNotifierConcurrent: under -race, notifiers and waiters in parallel; every waiter that started
// before the last Notify sees its channel closed.
func TestNotifierConcurrent(t *testing.T) {
	var n Notifier
	var wg sync.WaitGroup
	chans := make(chan (<-chan struct{}), 100)
	for i := 0; i < 100; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); chans <- n.Wait() }()
		go func() { defer wg.Done(); n.Notify() }()
	}
	wg.Wait()
	close(chans)
	n.Notify()
	for c := range chans {
		if !isClosed(c) {
			t.Fatal("a waiter was never woken")
		}
	}
}
