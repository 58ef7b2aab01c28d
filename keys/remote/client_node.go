package remote

import (
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"golang.org/x/crypto/chacha20"

	"github.com/lnkit/lnkit/keys"
)

// GetNodeID returns the signer's node id, asking for it once (waiting for the link if needed) and
// keeping it. It returns nil only if the client is closed before the signer answers.
func (c *Client) GetNodeID() *btcec.PublicKey {
	c.mu.Lock()
	if c.nodeID != nil || c.closed {
		defer c.mu.Unlock()
		return c.nodeID
	}
	cl := c.nodeCall
	if cl == nil {
		var err error
		if cl, err = c.newCall(&Request{Method: MethodGetNodeID}); err != nil {
			c.mu.Unlock()
			return nil
		}
		c.nodeCall = cl
		c.enqueue(cl)
	}
	c.mu.Unlock()
	p, err := wait(cl)
	c.mu.Lock()
	if c.nodeCall == cl {
		c.nodeCall = nil
	}
	c.mu.Unlock()
	if err != nil {
		return nil
	}
	return p.Pubkey
}

// ECDH asks the signer for the BOLT 8 shared secret with theirPub. Errors: the signer's
// (keys.ErrNilKey, ...), keys.ErrSignerPending wrapping ErrNotConnected, ErrClosed.
func (c *Client) ECDH(theirPub *btcec.PublicKey) ([32]byte, error) {
	p, err := c.roundTrip(&Request{Method: MethodECDH, Point: theirPub})
	if err != nil {
		return [32]byte{}, err
	}
	return p.Secret, nil
}

// SignGossipMessage asks the signer to sign gossip data (synchronous, like SignInvoice: a channel_update
// carries a timestamp, so asking again later would be another request). Errors: the signer's,
// keys.ErrSignerPending wrapping ErrNotConnected, ErrTooLarge, ErrClosed.
func (c *Client) SignGossipMessage(data []byte) (*ecdsa.Signature, error) {
	p, err := c.roundTrip(&Request{Method: MethodSignGossipMessage, Data: data})
	if err != nil {
		return nil, err
	}
	return p.Sig, nil
}

// SignInvoice asks the signer for an invoice's 65-byte recoverable signature (synchronous). Errors:
// the signer's (keys.ErrInvalidEncoding, a refusal), keys.ErrSignerPending wrapping ErrNotConnected,
// ErrTooLarge, ErrClosed.
func (c *Client) SignInvoice(hrp string, data5 []byte) ([]byte, error) {
	p, err := c.roundTrip(&Request{Method: MethodSignInvoice, Text: hrp, Data: data5})
	if err != nil {
		return nil, err
	}
	return p.Data, nil
}

// GenerateChannelKeysID asks the signer for a new channel's keys id, waiting for the link if needed.
// It returns the zero id only if the client is closed before the signer answers.
func (c *Client) GenerateChannelKeysID(inbound bool, channelValueSat int64, userChannelID [16]byte) [32]byte {
	p, err := c.roundTrip(&Request{Method: MethodGenerateChannelKeysID, Inbound: inbound, ValueSat: channelValueSat,
		UserChannelID: userChannelID})
	if err != nil {
		return [32]byte{}
	}
	return p.Secret
}

// DeriveChannelSigner returns the channel signer of channelKeysID at once. Unless its keys are known,
// it asks the signer for them (and the first per-commitment points); the signer's Pubkeys waits for
// that answer.
func (c *Client) DeriveChannelSigner(channelValueSat int64, channelKeysID [32]byte) keys.ChannelSigner {
	s := &channelSigner{c: c, keysID: channelKeysID, valueSat: channelValueSat}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deriveLocked(s)
	return s
}

// deriveLocked queues the derivation of s's keys unless they are known or asked for; it returns the
// call to wait on (nil when the keys are known or the client is closed). Called with c.mu held.
func (c *Client) deriveLocked(s *channelSigner) *call {
	ch := c.channel(s.keysID)
	if ch.pubkeys != nil || c.closed {
		return nil
	}
	if ch.derive == nil {
		cl, err := c.newCall(&Request{Method: MethodDeriveChannelSigner, KeysID: s.keysID, ChannelValueSat: s.valueSat})
		if err != nil {
			return nil
		}
		ch.derive = cl
		c.enqueue(cl)
	}
	return ch.derive
}

// ReadChannelSigner re-creates a channel signer from its Write output (keys id, then the channel value
// as 8 bytes big-endian), as keys.KeysManager.ReadChannelSigner does. Errors: keys.ErrInvalidEncoding.
func (c *Client) ReadChannelSigner(data []byte) (keys.ChannelSigner, error) {
	if len(data) != 40 {
		return nil, fmt.Errorf("%w: channel signer is %d bytes, want 40", keys.ErrInvalidEncoding, len(data))
	}
	var id [32]byte
	copy(id[:], data[:32])
	return c.DeriveChannelSigner(int64(binary.BigEndian.Uint64(data[32:])), id), nil
}

// GetDestinationScript asks the signer once per keys id (synchronous) and keeps the answer. Errors:
// the signer's, keys.ErrSignerPending wrapping ErrNotConnected, ErrClosed.
func (c *Client) GetDestinationScript(channelKeysID [32]byte) ([]byte, error) {
	c.mu.Lock()
	if ch, ok := c.channels[channelKeysID]; ok && ch.dest != nil {
		defer c.mu.Unlock()
		return append([]byte(nil), ch.dest...), nil
	}
	c.mu.Unlock()
	p, err := c.roundTrip(&Request{Method: MethodGetDestinationScript, KeysID: channelKeysID})
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), p.Script...), nil
}

// GetShutdownScriptPubKey asks the signer once (synchronous) and keeps the answer. Errors: as
// GetDestinationScript.
func (c *Client) GetShutdownScriptPubKey() ([]byte, error) {
	c.mu.Lock()
	if c.shutdown != nil {
		defer c.mu.Unlock()
		return append([]byte(nil), c.shutdown...), nil
	}
	c.mu.Unlock()
	p, err := c.roundTrip(&Request{Method: MethodGetShutdownScriptPubKey})
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), p.Script...), nil
}

// GetSecureRandomBytes returns 32 random bytes. The first call asks the signer for 32 bytes (waiting
// for the link if needed) and keeps them as a key; every call returns the ChaCha20 keystream under
// that key with the call counter as nonce (KeysManager's construction), so later calls never wait.
// It returns zeros only if the client is closed before the signer answers the first call.
func (c *Client) GetSecureRandomBytes() [32]byte {
	c.entropyMu.Lock()
	defer c.entropyMu.Unlock()
	if c.entropy == nil {
		p, err := c.roundTrip(&Request{Method: MethodGetSecureRandomBytes})
		if err != nil {
			return [32]byte{}
		}
		key := p.Secret
		c.entropy = &key
	}
	var nonce [chacha20.NonceSize]byte
	binary.LittleEndian.PutUint64(nonce[4:], c.entropyN)
	c.entropyN++
	var out [32]byte
	s, err := chacha20.NewUnauthenticatedCipher(c.entropy[:], nonce[:])
	if err != nil {
		// Unreachable: key and nonce sizes are fixed.
		return out
	}
	s.XORKeyStream(out[:], out[:])
	return out
}

// ApproveInvoice asks the signer's policy to approve paying the BOLT 11 invoice bolt11 with at most
// maxFeeMsat of routing fees; clientSig is passed on as is (synchronous). Errors: a *RefusedError,
// keys.ErrSignerPending (wrapping ErrNotConnected when the link is down), ErrTooLarge, ErrClosed.
func (c *Client) ApproveInvoice(bolt11 string, maxFeeMsat uint64, clientSig []byte) error {
	_, err := c.roundTrip(&Request{Method: MethodApproveInvoice, Text: bolt11, MaxFeeMsat: maxFeeMsat, ClientSig: clientSig})
	return err
}

// ApproveKeysend asks the signer's policy to approve a spontaneous payment of amountMsat to payee with
// payment hash hash and at most maxFeeMsat of fees (synchronous). Errors: as ApproveInvoice.
func (c *Client) ApproveKeysend(payee *btcec.PublicKey, hash [32]byte, amountMsat, maxFeeMsat uint64, clientSig []byte) error {
	_, err := c.roundTrip(&Request{Method: MethodApproveKeysend, Point: payee, Hash: hash, AmountMsat: amountMsat,
		MaxFeeMsat: maxFeeMsat, ClientSig: clientSig})
	return err
}
