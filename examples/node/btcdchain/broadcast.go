package btcdchain

import (
	"context"
	"errors"
	"time"

	"github.com/btcsuite/btcd/wire"
)

// broadcastTimeout bounds the sending of one queued batch.
const broadcastTimeout = 60 * time.Second

// SendRawTransaction submits tx to btcd (sendrawtransaction) and returns its verdict: nil when accepted,
// else an error wrapping ErrAlreadyKnown, ErrConflict, ErrMissingInputs or ErrRejected for btcd's
// refusals, or the transport's or the context's error.
func (c *Client) SendRawTransaction(ctx context.Context, tx *wire.MsgTx) error {
	if tx == nil {
		return errors.New("btcdchain: nil transaction")
	}
	return classifySendError(c.be.SendRawTransaction(ctx, tx))
}

// BroadcastTransactions implements chaininterface.BroadcasterInterface. It queues copies of txs and
// returns at once; the client's goroutine sends each batch in order, retrying a transaction refused for
// missing inputs after the others of its batch (so a child listed before its parent still goes through).
// Outcomes are logged: "already known" at debug level, conflicts and missing inputs at info level (lnkit
// rebroadcasts what it still needs, and these are normal then), other refusals as warnings. After Close
// it does nothing.
func (c *Client) BroadcastTransactions(txs ...*wire.MsgTx) {
	batch := make([]*wire.MsgTx, 0, len(txs))
	for _, tx := range txs {
		if tx != nil {
			batch = append(batch, tx.Copy())
		}
	}
	if len(batch) == 0 {
		return
	}
	c.bmu.Lock()
	if c.closed {
		c.bmu.Unlock()
		return
	}
	c.bqueue = append(c.bqueue, batch)
	c.bmu.Unlock()
	select {
	case c.bwake <- struct{}{}:
	default:
	}
}

// broadcastLoop sends queued batches until Close.
func (c *Client) broadcastLoop() {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.closing
		cancel()
	}()
	for {
		c.bmu.Lock()
		var batch []*wire.MsgTx
		if len(c.bqueue) > 0 {
			batch = c.bqueue[0]
			c.bqueue = c.bqueue[1:]
		}
		c.bmu.Unlock()
		if batch == nil {
			select {
			case <-c.bwake:
				continue
			case <-c.closing:
				return
			}
		}
		bctx, bcancel := context.WithTimeout(ctx, broadcastTimeout)
		c.sendBatch(bctx, batch)
		bcancel()
		if ctx.Err() != nil {
			return
		}
	}
}

// sendBatch sends txs, retrying those refused for missing inputs while another one got in.
func (c *Client) sendBatch(ctx context.Context, txs []*wire.MsgTx) {
	pending := txs
	for len(pending) > 0 {
		var retry []*wire.MsgTx
		var retryErrs []error
		progress := false
		for _, tx := range pending {
			err := c.SendRawTransaction(ctx, tx)
			switch {
			case err == nil:
				progress = true
				c.log.Info("broadcast transaction", "txid", tx.TxHash())
			case errors.Is(err, ErrAlreadyKnown):
				c.log.Debug("broadcast: already known", "txid", tx.TxHash())
			case errors.Is(err, ErrMissingInputs):
				retry = append(retry, tx)
				retryErrs = append(retryErrs, err)
			case errors.Is(err, ErrConflict):
				c.log.Info("broadcast: inputs already spent", "txid", tx.TxHash(), "err", err)
			case ctx.Err() != nil:
				c.log.Warn("broadcast: gave up", "txid", tx.TxHash(), "err", err)
				return
			default:
				c.log.Warn("broadcast: refused", "txid", tx.TxHash(), "err", err)
			}
		}
		if !progress {
			for i, tx := range retry {
				c.log.Info("broadcast: missing inputs", "txid", tx.TxHash(), "err", retryErrs[i])
			}
			return
		}
		pending = retry
	}
}
