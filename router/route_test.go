package router

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
)

func TestRouteTotals(t *testing.T) {
	k, _ := btcec.NewPrivateKey()
	r := &Path{Hops: []RouteHop{
		{PubKey: k.PubKey(), FeeMsat: 1_000, CLTVExpiryDelta: 40},
		{PubKey: k.PubKey(), FeeMsat: 2_500, CLTVExpiryDelta: 72},
		{PubKey: k.PubKey(), FeeMsat: 100_000, CLTVExpiryDelta: 18},
	}}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := r.TotalAmountMsat(); got != 103_500 {
		t.Errorf("TotalAmountMsat %d", got)
	}
	if got := r.TotalFeesMsat(); got != 3_500 {
		t.Errorf("TotalFeesMsat %d", got)
	}
	if got := r.TotalCLTVDelta(); got != 130 {
		t.Errorf("TotalCLTVDelta %d", got)
	}
}

func TestRouteValidate(t *testing.T) {
	if err := (&Path{}).Validate(); !errors.Is(err, ErrEmptyRoute) {
		t.Errorf("empty route: %v", err)
	}
	k, _ := btcec.NewPrivateKey()
	long := &Path{}
	for i := 0; i < 21; i++ {
		long.Hops = append(long.Hops, RouteHop{PubKey: k.PubKey()})
	}
	if err := long.Validate(); !errors.Is(err, ErrRouteTooLong) {
		t.Errorf("21 hops: %v", err)
	}
	if err := SinglePath(RouteHop{}).Validate(); err == nil {
		t.Error("hop without node id accepted")
	}
	if (&Path{}).TotalFeesMsat() != 0 {
		t.Error("fees of an empty path")
	}
	if err := (&Route{}).Validate(); !errors.Is(err, ErrNoPaths) {
		t.Errorf("route without paths: %v", err)
	}
}

// TestMultiPathTotals: a route's totals add its paths'.
func TestMultiPathTotals(t *testing.T) {
	k, _ := btcec.NewPrivateKey()
	r := &Route{Paths: []Path{
		{Hops: []RouteHop{{PubKey: k.PubKey(), FeeMsat: 1_000, CLTVExpiryDelta: 40}, {PubKey: k.PubKey(), FeeMsat: 60_000, CLTVExpiryDelta: 42}}},
		{Hops: []RouteHop{{PubKey: k.PubKey(), FeeMsat: 40_000, CLTVExpiryDelta: 42}}},
	}}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.FinalValueMsat() != 100_000 || r.TotalFeesMsat() != 1_000 || r.TotalAmountMsat() != 101_000 {
		t.Errorf("totals %d %d %d", r.FinalValueMsat(), r.TotalFeesMsat(), r.TotalAmountMsat())
	}
}

func TestDirectionOf(t *testing.T) {
	a, b := [33]byte{2, 1}, [33]byte{2, 2}
	if DirectionOf(a, b) != 0 || DirectionOf(b, a) != 1 {
		t.Error("node_1 is the lesser key")
	}
}
