package sphinx

import (
	"fmt"
	"testing"
)

func BenchmarkNewOnionPacket(b *testing.B) {
	for _, n := range []int{1, 5} {
		b.Run(fmt.Sprintf("%dhops", n), func(b *testing.B) {
			keys, ad := testRoute(n)
			hops := simpleHops(b, keys)
			session := testKey(99)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := NewOnionPacket(session, hops, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkProcessOnionPacket(b *testing.B) {
	keys, ad := testRoute(5)
	pkt, _, err := NewOnionPacket(testKey(99), simpleHops(b, keys), ad)
	if err != nil {
		b.Fatal(err)
	}
	ecdh := PrivateKeyECDH(keys[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ProcessOnionPacket(pkt, ad, ecdh); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptErrorPacket(b *testing.B) {
	keys, ad := testRoute(5)
	_, secrets, err := NewOnionPacket(testKey(99), simpleHops(b, keys), ad)
	if err != nil {
		b.Fatal(err)
	}
	pkt := CreateErrorPacket(secrets[4], NewIncorrectOrUnknownPaymentDetails(1000, 800000))
	for i := 3; i >= 0; i-- {
		pkt = ObfuscateErrorPacket(secrets[i], pkt)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecryptErrorPacket(secrets, pkt); err != nil {
			b.Fatal(err)
		}
	}
}
