// Package sphinx implements the BOLT 4 onion routing packet: building the 1366-byte onion a payer
// sends, peeling one layer of it at each hop, encoding and decoding the per-hop TLV payload, and the
// error onion that carries failure messages back to the payer.
//
// Everything here is a pure function of its arguments: the package keeps no state, starts no
// goroutine, reads no clock and never touches the network, so every function may be called from any
// number of goroutines at once. Inputs are never modified; results are freshly allocated.
//
// Cryptographic primitives follow BOLT 4 "Conventions": HMAC-SHA256, ChaCha20 with a 96-bit zero
// nonce as the pseudo-random stream, and ECDH on secp256k1 whose result is SHA256 of the compressed
// shared point.
package sphinx
