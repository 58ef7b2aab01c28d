package bench

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/lnkit/lnkit/router"
)

var (
	queriesPath = flag.String("queries", "", "lndroute's query list (src dst amt_msat per line); enables TestCompareLnd")
	lndOutput   = flag.String("lnd", "", "lndroute's output on those queries (its q lines and summary)")
	mppN        = flag.Int("mpp", 60, "multi-path queries to time after the comparison")
)

// lndResult is one `q I MS ms found=BOOL hops=H fee_msat=F` line of lndroute.
type lndResult struct {
	ms      float64
	found   bool
	feeMsat uint64
}

// TestCompareLnd times FindRoute on lndroute's queries, each once, after the graph is loaded, and
// prints both distributions and their ratio (run by compare.sh; skipped without -queries).
func TestCompareLnd(t *testing.T) {
	if *queriesPath == "" {
		t.Skip("no -queries")
	}
	qs, err := readQueries(*queriesPath)
	if err != nil {
		t.Fatal(err)
	}
	lnd, lndSummary, err := readLndOutput(*lndOutput)
	if err != nil {
		t.Fatal(err)
	}
	g := loadGraph(t)
	runtime.GC()
	v := g.ReadOnly()
	defer v.Release()
	sc := scorer(g)
	times, found, routes := timeQueries(v, qs, sc, lndParams)
	for i, q := range qs {
		fmt.Printf("q %d %.3f ms found=%v amt_sat=%d %s\n", i, times[i], routes[i] != nil, q.amtMsat/1000, routeSummary(routes[i]))
	}
	fmt.Println(lndSummary)
	p50, p90, mean := quantiles(times)
	fmt.Printf("lnkit FindRoute (%s): %d nodes, %d channels, graph heap %.1f MB; %d queries, found %d; p50 %.2f ms, p90 %.2f ms, mean %.2f ms\n",
		scorerName, v.NumNodes(), v.NumChannels(), heapMB(2), len(qs), found, p50, p90, mean)
	if len(lnd) == len(qs) {
		printRatio(lnd, times, routes)
	}
	printMPP(v, sc)
}

// printMPP times multi-path payments and, separately, those of them no single path can carry (a
// single-path search with the same limits fails).
func printMPP(v *router.ReadOnlyNetworkGraph, sc router.ScoreLookUp) {
	mqs := mppQueries(v, *mppN)
	mt, mf, mr := timeQueries(v, mqs, sc, mppParams)
	var hard []float64
	hardFound, paths, multi := 0, 0, 0
	for i, q := range mqs {
		p := mppParams(q)
		p.MaxPathCount = 1
		if _, err := v.FindRoute(q.src, &p, nil, sc); err != nil {
			hard = append(hard, mt[i])
			if mr[i] != nil {
				hardFound++
			}
		}
		if mr[i] != nil {
			paths += len(mr[i].Paths)
			if len(mr[i].Paths) > 1 {
				multi++
			}
		}
	}
	p50, p90, mean := quantiles(mt)
	fmt.Printf("lnkit multi-path (1M, 2M, 5M sat, basic_mpp, LDK's default limits): %d queries, found %d (%d over several paths, %.1f paths on average); p50 %.2f ms, p90 %.2f ms, mean %.2f ms\n",
		len(mqs), mf, multi, float64(paths)/float64(max(mf, 1)), p50, p90, mean)
	if len(hard) > 0 {
		p50, p90, mean = quantiles(hard)
		fmt.Printf("  of which no single path can carry the amount: %d, found %d; p50 %.2f ms, p90 %.2f ms, mean %.2f ms\n",
			len(hard), hardFound, p50, p90, mean)
	}
}

func routeSummary(r *router.Route) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("hops=%d fee_msat=%d", len(r.Paths[0].Hops), r.TotalFeesMsat())
}

// printRatio prints lnd's times over lnkit's, and which queries only one of them routed.
func printRatio(lnd []lndResult, times []float64, routes []*router.Route) {
	lt := make([]float64, len(lnd))
	var onlyLnd, onlyLnkit []int
	cheaper, dearer := 0, 0
	for i, r := range lnd {
		lt[i] = r.ms
		switch {
		case r.found && routes[i] == nil:
			onlyLnd = append(onlyLnd, i)
		case !r.found && routes[i] != nil:
			onlyLnkit = append(onlyLnkit, i)
		case r.found && routes[i] != nil && routes[i].TotalFeesMsat() < r.feeMsat:
			cheaper++
		case r.found && routes[i] != nil && routes[i].TotalFeesMsat() > r.feeMsat:
			dearer++
		}
	}
	a50, a90, am := quantiles(lt)
	b50, b90, bm := quantiles(times)
	fmt.Printf("ratio lnd/lnkit: p50 %.1fx, p90 %.1fx, mean %.1fx\n", a50/b50, a90/b90, am/bm)
	fmt.Printf("routed by lnd only: %v; by lnkit only: %v; where both routed, lnkit's fees are lower on %d, higher on %d\n",
		onlyLnd, onlyLnkit, cheaper, dearer)
}

func readQueries(path string) ([]query, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var qs []query
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			return nil, fmt.Errorf("query line %q", sc.Text())
		}
		var q query
		s, err1 := hex.DecodeString(fs[0])
		d, err2 := hex.DecodeString(fs[1])
		a, err3 := strconv.ParseUint(fs[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || len(s) != 33 || len(d) != 33 {
			return nil, fmt.Errorf("query line %q", sc.Text())
		}
		copy(q.src[:], s)
		copy(q.dst[:], d)
		q.amtMsat = a
		qs = append(qs, q)
	}
	return qs, sc.Err()
}

// readLndOutput parses lndroute's per-query lines and keeps its summary line.
func readLndOutput(path string) ([]lndResult, string, error) {
	if path == "" {
		return nil, "(no lnd output)", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var out []lndResult
	summary := ""
	for _, line := range strings.Split(string(b), "\n") {
		var i, hops int
		var r lndResult
		var found string
		if n, _ := fmt.Sscanf(line, "q %d %f ms found=%s hops=%d fee_msat=%d", &i, &r.ms, &found, &hops, &r.feeMsat); n == 5 {
			r.found = found == "true"
			out = append(out, r)
		} else if strings.HasPrefix(line, "lnd FindRoute") {
			summary = line
		}
	}
	return out, summary, nil
}
