package remote

import (
	"encoding/binary"
	"fmt"

	"github.com/lnkit/lnkit/keys"
)

// newCall encodes q under the next request ID. Called with c.mu held.
func (c *Client) newCall(q *Request) (*call, error) {
	info := methods[q.Method]
	q.ID = c.nextID
	frame, err := EncodeRequest(q)
	if err != nil {
		return nil, err
	}
	c.nextID++
	cl := &call{id: q.ID, method: q.Method, class: info.class, keysID: q.KeysID, frame: frame, key: frameKey(frame)}
	if info.class != classAsync {
		cl.done = make(chan struct{})
	}
	return cl, nil
}

// frameKey is a request frame without its ID: two calls with the same method and arguments have the
// same key.
func frameKey(frame []byte) string { return string(frame[:2]) + string(frame[10:]) }

// enqueue queues cl to be handed out. Called with c.mu held.
func (c *Client) enqueue(cl *call) {
	c.queue = append(c.queue, cl)
	if c.connected {
		c.signal()
	}
}

// roundTrip sends q and waits for its answer: a synchronous call fails at once while the link is
// down, a persistent one waits for a connection. It returns the response's error, if any, with the
// response.
func (c *Client) roundTrip(q *Request) (*Response, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if methods[q.Method].class == classSync && !c.connected {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s: %w", keys.ErrSignerPending, q.Method, ErrNotConnected)
	}
	cl, err := c.newCall(q)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	c.enqueue(cl)
	c.mu.Unlock()
	return wait(cl)
}

// wait blocks until cl is resolved and returns its response or error.
func wait(cl *call) (*Response, error) {
	<-cl.done
	if cl.err != nil {
		return nil, cl.err
	}
	return cl.resp, cl.resp.Err()
}

// asyncCall returns the answer to q if it has arrived (once), else queues q (unless it is queued or
// in flight already) and returns keys.ErrSignerPending.
func (c *Client) asyncCall(q *Request) (*Response, error) {
	q.ID = 0
	frame, err := EncodeRequest(q)
	if err != nil {
		return nil, err
	}
	key := frameKey(frame)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if cl, ok := c.async[key]; ok {
		if !cl.answered {
			return nil, fmt.Errorf("%w: %s in flight", keys.ErrSignerPending, q.Method)
		}
		// A signature stays until evicted (evictAnswered): a channel may ask for the same one twice in
		// one transition (a closing_signed's and the closing transaction's), and the signer would
		// answer the same again. An error is returned once: asked again, the signer may now agree
		// (a payment approved since).
		if cl.resp.Err() != nil {
			delete(c.async, key)
		}
		return cl.resp, cl.resp.Err()
	}
	if len(c.async) >= c.cfg.MaxOutstanding && !c.evictAnswered() {
		return nil, fmt.Errorf("%w: %d", ErrTooManyRequests, len(c.async))
	}
	id := c.nextID
	c.nextID++
	binary.BigEndian.PutUint64(frame[2:10], id)
	cl := &call{id: id, method: q.Method, class: classAsync, keysID: q.KeysID, key: key, frame: frame}
	c.async[key] = cl
	c.enqueue(cl)
	return nil, fmt.Errorf("%w: %s queued", keys.ErrSignerPending, q.Method)
}

// evictAnswered drops the oldest answer not collected; false if there is none. Called with c.mu held.
func (c *Client) evictAnswered() bool {
	for len(c.answered) > 0 {
		cl := c.answered[0]
		c.answered = c.answered[1:]
		if c.async[cl.key] == cl {
			delete(c.async, cl.key)
			return true
		}
	}
	return false
}

// HandleResponse takes one response frame from the signer. Errors: those of DecodeResponse, and
// ErrUnexpectedResponse for a response to no request in flight (or with another method); the host
// should drop the link on any error.
func (c *Client) HandleResponse(frame []byte) error {
	p, err := DecodeResponse(frame)
	if err != nil {
		return err
	}
	c.mu.Lock()
	cl, ok := c.inflight[p.ID]
	if !ok || cl.method != p.Method {
		c.mu.Unlock()
		return fmt.Errorf("%w: ID %d, %s", ErrUnexpectedResponse, p.ID, p.Method)
	}
	delete(c.inflight, p.ID)
	c.absorb(cl, p)
	notify := false
	switch {
	case cl.internal:
	case cl.class != classAsync:
		cl.resp = p
		close(cl.done)
	case p.Code == CodePending:
		// The signer cannot answer yet: forget the request so that the next call sends it again.
		delete(c.async, cl.key)
	case p.Method == MethodGetPerCommitmentPoint && p.Code == CodeOK:
		// The points are cached; the next call finds its point there.
		delete(c.async, cl.key)
		notify = true
	default:
		cl.answered, cl.resp = true, p
		c.answered = append(c.answered, cl)
		if len(c.answered) > 2*c.cfg.MaxOutstanding {
			c.compactAnswered()
		}
		notify = true
	}
	c.mu.Unlock()
	if notify && c.cfg.OnAnswer != nil {
		c.cfg.OnAnswer()
	}
	return nil
}

// compactAnswered drops stale entries of c.answered. Called with c.mu held.
func (c *Client) compactAnswered() {
	live := c.answered[:0]
	for _, cl := range c.answered {
		if c.async[cl.key] == cl {
			live = append(live, cl)
		}
	}
	clear(c.answered[len(live):])
	c.answered = live
}

// absorb keeps what a successful answer teaches about static values. Called with c.mu held.
func (c *Client) absorb(cl *call, p *Response) {
	if p.Code != CodeOK {
		if cl.method == MethodDeriveChannelSigner {
			c.channel(cl.keysID).derive = nil
		}
		return
	}
	switch cl.method {
	case MethodGetNodeID:
		c.nodeID = p.Pubkey
	case MethodGetShutdownScriptPubKey:
		c.shutdown = p.Script
	case MethodGetDestinationScript:
		c.channel(cl.keysID).dest = p.Script
	case MethodDeriveChannelSigner:
		ch := c.channel(cl.keysID)
		pk := p.Pubkeys
		ch.pubkeys, ch.derive = &pk, nil
		ch.addPoints(p.Points)
	case MethodGetPerCommitmentPoint, MethodReleaseCommitmentSecret:
		c.channel(cl.keysID).addPoints(p.Points)
	case MethodProvideChannelParameters:
		if !cl.internal {
			c.channel(cl.keysID).params = cl.frame
		}
	}
}

// channel returns the cache of channel id, creating it. Called with c.mu held.
func (c *Client) channel(id [32]byte) *channelCache {
	ch, ok := c.channels[id]
	if !ok {
		ch = &channelCache{}
		c.channels[id] = ch
	}
	return ch
}

// addPoints caches points, replacing older entries for the same numbers and dropping the oldest beyond
// maxCachedPoints.
func (ch *channelCache) addPoints(points []NumberedPoint) {
	for _, np := range points {
		if np.Point == nil {
			continue
		}
		for i, old := range ch.points {
			if old.CommitmentNumber == np.CommitmentNumber {
				ch.points = append(ch.points[:i], ch.points[i+1:]...)
				break
			}
		}
		ch.points = append(ch.points, np)
		if len(ch.points) > maxCachedPoints {
			ch.points = append(ch.points[:0], ch.points[1:]...)
		}
	}
}

// point returns the cached point of commitment n.
func (ch *channelCache) point(n uint64) (NumberedPoint, bool) {
	for _, np := range ch.points {
		if np.CommitmentNumber == n {
			return np, true
		}
	}
	return NumberedPoint{}, false
}
