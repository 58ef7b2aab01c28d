package lnwire

import (
	"bytes"
	"crypto/sha3"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ErrInvalidAddress is returned when an address descriptor of a known type does not fit in the
// `addresses` field (BOLT 7: "if addrlen is insufficient to hold the address descriptors of the known
// types"), and when encoding or building an address whose parts do not match its type.
var ErrInvalidAddress = errors.New("lnwire: invalid address descriptor")

// AddressType is the first byte of an `address descriptor` of node_announcement (BOLT 7, "The
// node_announcement Message"). The same descriptor is the `remote_addr` of init (BOLT 1).
type AddressType uint8

// The address descriptor types BOLT 7 defines.
const (
	// AddressIPv4 (1): 4-byte IPv4 address and port; 6 bytes of data.
	AddressIPv4 AddressType = 1
	// AddressIPv6 (2): 16-byte IPv6 address and port; 18 bytes of data.
	AddressIPv6 AddressType = 2
	// AddressTorV2 (3) is deprecated: it held a Tor v2 onion service (10 bytes) and port; 12 bytes of
	// data. It is still parsed so that the descriptors after it can be read; receivers should ignore it.
	AddressTorV2 AddressType = 3
	// AddressTorV3 (4): Tor v3 onion service, 35 bytes (ed25519 public key, 2-byte checksum, version
	// byte 3) and port; 37 bytes of data.
	AddressTorV3 AddressType = 4
	// AddressDNSHostname (5): 1-byte length, that many bytes of ASCII hostname (non-ASCII names in
	// Punycode), and port; at most 258 bytes of data.
	AddressDNSHostname AddressType = 5
)

// Sizes of the address part (without port) of the fixed-size descriptor types.
const (
	torV2AddrLen = 10
	torV3AddrLen = 35
)

var addressTypeNames = map[AddressType]string{
	AddressIPv4:        "ipv4",
	AddressIPv6:        "ipv6",
	AddressTorV2:       "torv2",
	AddressTorV3:       "torv3",
	AddressDNSHostname: "dns",
}

// IsKnown reports whether t is one of the five types BOLT 7 defines.
func (t AddressType) IsKnown() bool { _, ok := addressTypeNames[t]; return ok }

// String returns "ipv4", "ipv6", "torv2", "torv3", "dns" or "unknown(N)".
func (t AddressType) String() string {
	if n, ok := addressTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("unknown(%d)", uint8(t))
}

// fixedAddrLen returns the address length (without port) of t, or -1 for the variable-length DNS type.
func (t AddressType) fixedAddrLen() int {
	switch t {
	case AddressIPv4:
		return 4
	case AddressIPv6:
		return 16
	case AddressTorV2:
		return torV2AddrLen
	case AddressTorV3:
		return torV3AddrLen
	default:
		return -1
	}
}

// NodeAddress is one `address descriptor` of a known type (BOLT 7).
type NodeAddress struct {
	Type AddressType
	// Addr is the address without the port, exactly as on the wire: 4 bytes for IPv4, 16 for IPv6, 10 for
	// Tor v2, 35 for Tor v3 (ed25519 public key || checksum || version), and the hostname bytes (0 to 255
	// of them, without the length byte) for a DNS hostname. Decoding does not check the Tor v3 checksum
	// or that a hostname is ASCII; NewTorV3Address and NewDNSHostnameAddress do.
	Addr []byte
	// Port is the TCP port. BOLT 7: a sender must not announce port 0 for IPv4, IPv6 or DNS, and a
	// receiver should ignore such an address.
	Port uint16
}

// NewIPAddress returns the IPv4 or IPv6 descriptor of ap. An IPv4-mapped IPv6 address gives an IPv4
// descriptor. It returns ErrInvalidAddress for an invalid address or one with a zone.
func NewIPAddress(ap netip.AddrPort) (NodeAddress, error) {
	ip := ap.Addr().Unmap()
	switch {
	case !ip.IsValid() || ip.Zone() != "":
		return NodeAddress{}, fmt.Errorf("%w: %v", ErrInvalidAddress, ap)
	case ip.Is4():
		v := ip.As4()
		return NodeAddress{Type: AddressIPv4, Addr: v[:], Port: ap.Port()}, nil
	default:
		v := ip.As16()
		return NodeAddress{Type: AddressIPv6, Addr: v[:], Port: ap.Port()}, nil
	}
}

// onionEncoding is the base32 alphabet of onion names (RFC 4648, lowercase, no padding).
var onionEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// torV3Checksum returns the 2-byte checksum of a v3 onion address: SHA3-256(".onion checksum" ||
// pubkey || version)[:2] (Tor's rend-spec-v3).
func torV3Checksum(pubkey []byte, version byte) [2]byte {
	in := make([]byte, 0, 15+32+1)
	in = append(in, ".onion checksum"...)
	in = append(in, pubkey...)
	in = append(in, version)
	h := sha3.Sum256(in)
	return [2]byte{h[0], h[1]}
}

// NewTorV3Address parses a v3 onion service name (56 base32 characters, with or without the ".onion"
// suffix, any case) and returns its descriptor. It returns ErrInvalidAddress if the name is malformed,
// its version byte is not 3 or its checksum is wrong.
func NewTorV3Address(onion string, port uint16) (NodeAddress, error) {
	name := strings.TrimSuffix(strings.ToLower(onion), ".onion")
	raw, err := onionEncoding.DecodeString(name)
	if err != nil || len(raw) != torV3AddrLen {
		return NodeAddress{}, fmt.Errorf("%w: %q is not a v3 onion name", ErrInvalidAddress, onion)
	}
	if raw[34] != 3 {
		return NodeAddress{}, fmt.Errorf("%w: onion version %d", ErrInvalidAddress, raw[34])
	}
	if sum := torV3Checksum(raw[:32], 3); !bytes.Equal(sum[:], raw[32:34]) {
		return NodeAddress{}, fmt.Errorf("%w: onion checksum mismatch", ErrInvalidAddress)
	}
	return NodeAddress{Type: AddressTorV3, Addr: raw, Port: port}, nil
}

// NewDNSHostnameAddress returns the DNS hostname descriptor of host. It returns ErrInvalidAddress for
// an empty host, one longer than 255 bytes, or one with bytes that are not printable ASCII (encode
// international names in Punycode first, as BOLT 7 requires).
func NewDNSHostnameAddress(host string, port uint16) (NodeAddress, error) {
	if len(host) == 0 || len(host) > 255 {
		return NodeAddress{}, fmt.Errorf("%w: hostname of %d bytes", ErrInvalidAddress, len(host))
	}
	if !isPrintableASCII([]byte(host)) {
		return NodeAddress{}, fmt.Errorf("%w: hostname %q is not printable ASCII", ErrInvalidAddress, host)
	}
	return NodeAddress{Type: AddressDNSHostname, Addr: []byte(host), Port: port}, nil
}

func isPrintableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// AddrPort returns the IP address and port of an IPv4 or IPv6 descriptor; ok is false for the other
// types or a malformed Addr.
func (a NodeAddress) AddrPort() (ap netip.AddrPort, ok bool) {
	if (a.Type != AddressIPv4 && a.Type != AddressIPv6) || len(a.Addr) != a.Type.fixedAddrLen() {
		return netip.AddrPort{}, false
	}
	ip, _ := netip.AddrFromSlice(a.Addr)
	return netip.AddrPortFrom(ip, a.Port), true
}

// Host returns the host part: the IP address, the onion name with ".onion", or the hostname (quoted
// with Go escapes if it is not printable ASCII, since it comes from a peer). A malformed Addr gives the
// type and a hex dump, e.g. "torv2(01)".
func (a NodeAddress) Host() string {
	if a.Type != AddressDNSHostname && len(a.Addr) != a.Type.fixedAddrLen() {
		return fmt.Sprintf("%v(%x)", a.Type, a.Addr)
	}
	switch a.Type {
	case AddressIPv4, AddressIPv6:
		ap, _ := a.AddrPort()
		return ap.Addr().String()
	case AddressTorV2, AddressTorV3:
		return onionEncoding.EncodeToString(a.Addr) + ".onion"
	default:
		if isPrintableASCII(a.Addr) {
			return string(a.Addr)
		}
		return strconv.QuoteToASCII(string(a.Addr))
	}
}

// String returns host:port (IPv6 in brackets), e.g. "203.0.113.7:9735".
func (a NodeAddress) String() string {
	return net.JoinHostPort(a.Host(), strconv.Itoa(int(a.Port)))
}

// DecodeNodeAddresses parses the `addresses` field of node_announcement (without its u16 length). It
// reads descriptors of the known types until the end, or until the first descriptor of an unknown type
// (0 included): BOLT 7 has descriptors in ascending type order and tells the reader to ignore the first
// unknown one, whose length it cannot know, so parsing stops there and the bytes from that descriptor to
// the end are returned as excess, for the message to re-encode unchanged. A known descriptor cut short
// by the end of the field is ErrInvalidAddress. Addresses alias b. Order, ports and duplicate DNS
// hostnames are not checked (BOLT 7 leaves those to the receiver's policy).
func DecodeNodeAddresses(b []byte) (addrs []NodeAddress, excess []byte, err error) {
	for len(b) > 0 {
		t := AddressType(b[0])
		var addrLen, start int
		switch {
		case t == AddressDNSHostname:
			if len(b) < 2 {
				return nil, nil, fmt.Errorf("%w: dns hostname length missing at the end of addresses", ErrInvalidAddress)
			}
			addrLen, start = int(b[1]), 2
		case t.IsKnown():
			addrLen, start = t.fixedAddrLen(), 1
		default:
			return addrs, b, nil
		}
		end := start + addrLen + 2
		if end > len(b) {
			return nil, nil, fmt.Errorf("%w: %v descriptor needs %d bytes, %d left in addresses", ErrInvalidAddress, t, end, len(b))
		}
		addrs = append(addrs, NodeAddress{
			Type: t,
			Addr: b[start : start+addrLen : start+addrLen],
			Port: uint16(b[end-2])<<8 | uint16(b[end-1]),
		})
		b = b[end:]
	}
	return addrs, nil, nil
}

// AppendNodeAddresses appends the `addresses` field (without its u16 length): each descriptor, then
// excess. It returns ErrInvalidAddress if a descriptor's type is unknown or its Addr has the wrong length
// for the type (more than 255 bytes for a hostname), or if excess starts with a known type (it would
// not decode back as excess).
func AppendNodeAddresses(b []byte, addrs []NodeAddress, excess []byte) ([]byte, error) {
	for i, a := range addrs {
		switch {
		case a.Type == AddressDNSHostname:
			if len(a.Addr) > 255 {
				return nil, fmt.Errorf("%w: address %d: hostname of %d bytes", ErrInvalidAddress, i, len(a.Addr))
			}
			b = append(b, byte(a.Type), byte(len(a.Addr)))
		case a.Type.IsKnown():
			if len(a.Addr) != a.Type.fixedAddrLen() {
				return nil, fmt.Errorf("%w: address %d: %v of %d bytes", ErrInvalidAddress, i, a.Type, len(a.Addr))
			}
			b = append(b, byte(a.Type))
		default:
			return nil, fmt.Errorf("%w: address %d: type %v (put unknown descriptors in the excess bytes)", ErrInvalidAddress, i, a.Type)
		}
		b = append(b, a.Addr...)
		b = appendU16(b, a.Port)
	}
	if len(excess) > 0 && AddressType(excess[0]).IsKnown() {
		return nil, fmt.Errorf("%w: excess address data starts with known type %v", ErrInvalidAddress, AddressType(excess[0]))
	}
	return append(b, excess...), nil
}
