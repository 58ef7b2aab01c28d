// Package remote lets a node sign with keys it does not hold: a Client on the node implements
// keys.NodeSigner, keys.SignerProvider, keys.EntropySource and keys.ChannelSigner by sending requests
// to a Server next to the seed, which answers them with an Inner signer (a keys.KeysManager, possibly
// wrapped by a policy). The Client also signs for the node's on-chain wallet (AccountPubKey,
// SignWalletInputs), which the Server answers with a WalletInner when it has one.
//
// # Protocol
//
// Every message is one frame; the transport (examples/signerlink runs BOLT 8 over TCP) carries the
// frames in order. A request frame is
//
//	version (1 byte, Version) | kind (1) | request ID (u64) | method (u16) |
//	[channel keys id (32 bytes)] | [channel value in satoshis (u64)] | TLV body
//
// where the keys id is present for GetDestinationScript and every ChannelSigner method and the
// channel value for ChannelSigner methods (the server derives a signer it does not hold from them). A
// response frame is
//
//	version | kind (2) | request ID | method | error code (u16, CodeOK = 0) | TLV body
//
// Integers are big-endian. The body is a BOLT 1 TLV stream; each argument or result is one even
// record (see Request and Response), an error response carries the message and, for a policy refusal,
// the rule tag. Readers refuse unknown even records and skip odd ones, so a later version can add
// optional records. Every length is bounded (MaxFrameSize, MaxTxLen, MaxHTLCs, ...). Keys are 33-byte
// compressed points (33 zero bytes for none), signatures 64 bytes r || s, transactions a kind byte, a
// u32 length and their serialization.
//
// The server answers requests in order and answers a repeated request (a resend after reconnection)
// identically: signing is deterministic (RFC 6979).
//
// The package does no I/O, starts no goroutine and reads no clock: the host moves frames between
// Client.PendingRequests, Server.Handle and Client.HandleResponse.
package remote
