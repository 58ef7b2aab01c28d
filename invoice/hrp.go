package invoice

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/chaincfg"
)

// networks lists the currency prefixes of BOLT 11 ("Human-Readable Part"), longest first so that lnbcrt
// is not read as lnbc followed by an amount.
var networks = []struct {
	prefix string
	params *chaincfg.Params
}{
	{"lnbcrt", &chaincfg.RegressionNetParams},
	{"lntbs", &chaincfg.SigNetParams},
	{"lnbc", &chaincfg.MainNetParams},
	{"lntb", &chaincfg.TestNet3Params},
}

// prefixFor returns the human-readable prefix ("ln" + currency) of net, matched by its Name so that a
// custom signet (chaincfg.CustomSignetParams) counts as signet.
func prefixFor(net *chaincfg.Params) (string, error) {
	if net == nil {
		return "", fmt.Errorf("%w: nil chain parameters", ErrUnknownNetwork)
	}
	for _, n := range networks {
		if n.params.Name == net.Name {
			return n.prefix, nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownNetwork, net.Name)
}

// splitHRP splits a lower-case human-readable part into its network and amount text.
func splitHRP(hrp string) (*chaincfg.Params, string, error) {
	for _, n := range networks {
		rest, ok := strings.CutPrefix(hrp, n.prefix)
		if ok && (rest == "" || (rest[0] >= '0' && rest[0] <= '9')) {
			return n.params, rest, nil
		}
	}
	return nil, "", fmt.Errorf("%w: prefix of %q", ErrUnknownNetwork, hrp)
}

// Millisatoshis per unit of each multiplier; `p` (0.1 msat) is handled apart.
const (
	msatPerBTC   uint64 = 100_000_000_000
	msatPerMilli uint64 = 100_000_000
	msatPerMicro uint64 = 100_000
	msatPerNano  uint64 = 100
)

// parseAmount reads the amount of the human-readable part (BOLT 11: a positive decimal integer without
// leading zeros, then an optional multiplier m, u, n or p) in millisatoshis.
func parseAmount(s string) (uint64, error) {
	digits, mult := s, byte(0)
	if last := s[len(s)-1]; last < '0' || last > '9' {
		digits, mult = s[:len(s)-1], last
	}
	if digits == "" {
		return 0, fmt.Errorf("%w: %q has no digits", ErrInvalidAmount, s)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, fmt.Errorf("%w: %q is not a decimal number", ErrInvalidAmount, s)
		}
	}
	if digits[0] == '0' {
		return 0, fmt.Errorf("%w: %q is zero or has a leading zero", ErrInvalidAmount, s)
	}
	var perUnit uint64
	switch mult {
	case 0:
		perUnit = msatPerBTC
	case 'm':
		perUnit = msatPerMilli
	case 'u':
		perUnit = msatPerMicro
	case 'n':
		perUnit = msatPerNano
	case 'p':
		// One pico-bitcoin is a tenth of a millisatoshi: the amount must end in 0.
		if digits[len(digits)-1] != '0' {
			return 0, fmt.Errorf("%w: %q", ErrSubMsatPrecision, s)
		}
		digits, perUnit = digits[:len(digits)-1], 1
	default:
		return 0, fmt.Errorf("%w: %q", ErrInvalidMultiplier, s)
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > ^uint64(0)/perUnit {
		return 0, fmt.Errorf("%w: %q overflows 64 bits of millisatoshis", ErrInvalidAmount, s)
	}
	return n * perUnit, nil
}

// formatAmount writes msat with the largest multiplier that represents it exactly (BOLT 11: "SHOULD use
// the shortest representation possible").
func formatAmount(msat uint64) string {
	for _, u := range []struct {
		per  uint64
		mult string
	}{{msatPerBTC, ""}, {msatPerMilli, "m"}, {msatPerMicro, "u"}, {msatPerNano, "n"}} {
		if msat%u.per == 0 {
			return strconv.FormatUint(msat/u.per, 10) + u.mult
		}
	}
	return strconv.FormatUint(msat, 10) + "0p"
}
