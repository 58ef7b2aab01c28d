//go:build interop

package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lnd is one lnd node of the regtest network, driven through lncli (JSON output) and, for signing with
// the node key, lnd's REST API.
type lnd struct {
	name     string
	dir      string
	rpcAddr  string
	p2pAddr  string
	restAddr string
	binDir   string
	bin      string // lnd binary in use: "lnd" or "lnd-fastfee"
	extra    []string
	net      *network

	mu     sync.Mutex
	p      *proc
	pubkey string
}

// lndArgs are lnd's flags: up.sh's (btcd backend, no seed backup, keysend, fast gossip trickle, one
// confirmation for channels) plus what the scenarios need: the fee URL, a short CSV delay asked of the
// peer (so force-close sweeps need few blocks), REST on loopback (signrpc) and debug logs of the
// peer and link (every wire message lnd sends and receives is in the log).
func (l *lnd) args() []string {
	n := l.net
	a := []string{
		"--lnddir=" + l.dir,
		"--bitcoin.regtest", "--bitcoin.node=btcd",
		"--btcd.rpchost=" + n.btcd.rpcAddr, "--btcd.rpcuser=" + btcdUser, "--btcd.rpcpass=" + btcdPass,
		"--btcd.rpccert=" + n.btcd.certPath,
		"--rpclisten=" + l.rpcAddr, "--listen=" + l.p2pAddr, "--restlisten=" + l.restAddr,
		"--noseedbackup", "--accept-keysend", "--alias=" + l.name, "--nobootstrap",
		"--trickledelay=50", "--bitcoin.defaultchanconfs=1",
		"--bitcoin.defaultremotedelay=" + strconv.Itoa(remoteDelay),
		"--maxpendingchannels=10",
		"--fee.url=" + n.fees.url(),
		"--debuglevel=info,PEER=debug,HSWC=debug,FNDG=debug,CNCT=debug,SWPR=debug,CHFT=debug",
	}
	return append(a, l.extra...)
}

// remoteDelay is the to_self_delay lnd asks of its peer (--bitcoin.defaultremotedelay): lnkit's
// to_local waits this many blocks after lnkit force-closes.
const remoteDelay = 20

func (l *lnd) logPath() string { return filepath.Join(l.dir, "lnd.out") }

// start starts lnd (l.bin) and waits until lncli getinfo answers and the node is synced to btcd.
func (l *lnd) start() error {
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return err
	}
	p, err := startProc(l.name, l.logPath(), filepath.Join(l.binDir, l.bin), l.args()...)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.p = p
	l.mu.Unlock()
	tip, err := l.net.btcd.blockCount()
	if err != nil {
		return err
	}
	var info lndInfo
	err = poll(90*time.Second, func() (bool, string) {
		if done, err := p.exited(); done {
			return true, fmt.Sprintf("lnd exited: %v", err)
		}
		// getinfo answers before the server has started; "state" says when it has.
		var state struct {
			State string `json:"state"`
		}
		if err := l.cliJSON(&state, "state"); err != nil || state.State != "SERVER_ACTIVE" {
			return false, fmt.Sprintf("state %q %v", state.State, err)
		}
		err := l.cliJSON(&info, "getinfo")
		if err != nil {
			return false, err.Error()
		}
		return info.SyncedToChain && info.BlockHeight >= tip, fmt.Sprintf("height %d of %d, synced %v",
			info.BlockHeight, tip, info.SyncedToChain)
	})
	if err == nil {
		if done, perr := p.exited(); done {
			err = fmt.Errorf("exited: %v", perr)
		}
	}
	if err != nil {
		p.kill()
		return fmt.Errorf("%s did not start: %w\n%s", l.name, err, logTail(l.logPath(), 30))
	}
	l.mu.Lock()
	l.pubkey = info.IdentityPubkey
	l.mu.Unlock()
	return nil
}

// stop shuts lnd down (SIGTERM, then SIGKILL after 60 s).
func (l *lnd) stop() {
	l.mu.Lock()
	p := l.p
	l.mu.Unlock()
	if p != nil {
		p.stop(60 * time.Second)
	}
}

// restart stops lnd and starts it again with binary bin ("lnd" or "lnd-fastfee"), same data.
func (l *lnd) restart(t testing.TB, bin string) {
	t.Helper()
	l.stop()
	l.bin = bin
	if err := l.start(); err != nil {
		t.Fatal(err)
	}
}

func (l *lnd) id() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pubkey
}

// uri is "<pubkey>@host:port".
func (l *lnd) uri() string { return l.id() + "@" + l.p2pAddr }

// cliErr is lncli's failure: its exit status and both outputs.
type cliErr struct {
	args   []string
	err    error
	stdout string
	stderr string
}

func (e *cliErr) Error() string {
	return fmt.Sprintf("lncli %s: %v: %s %s", strings.Join(e.args, " "), e.err, strings.TrimSpace(e.stderr),
		strings.TrimSpace(e.stdout))
}

// cliCtx runs lncli with the node's --lnddir/--rpcserver/--network and returns its stdout.
func (l *lnd) cliCtx(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{"--lnddir=" + l.dir, "--rpcserver=" + l.rpcAddr, "--network=regtest"}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(l.binDir, "lncli"), full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &cliErr{args: args, err: err, stdout: stdout.String(), stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

func (l *lnd) cli(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return l.cliCtx(ctx, args...)
}

// cliJSON runs lncli and decodes its (last) JSON document into out.
func (l *lnd) cliJSON(out any, args ...string) error {
	stdout, err := l.cli(args...)
	if err != nil {
		return err
	}
	return decodeLast(stdout, out)
}

// must runs lncli, failing the test on error, and decodes the output into out (nil: ignore it).
func (l *lnd) must(t testing.TB, out any, args ...string) {
	t.Helper()
	stdout, err := l.cli(args...)
	if err != nil {
		t.Fatalf("%s: %v", l.name, err)
	}
	if out != nil {
		if err := decodeLast(stdout, out); err != nil {
			t.Fatalf("%s: lncli %s: %v in %q", l.name, strings.Join(args, " "), err, stdout)
		}
	}
}

// decodeLast decodes the last of the JSON documents in data (lncli's payment commands print one
// document per update).
func decodeLast(data []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var last json.RawMessage
	for {
		var m json.RawMessage
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		last = m
	}
	if last == nil {
		return errors.New("no JSON in lncli output")
	}
	return json.Unmarshal(last, out)
}

// jint is an integer lncli prints either as a number or (64-bit protobuf fields) as a string.
type jint int64

func (j *jint) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*j = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	*j = jint(v)
	return err
}

type lndFeature struct {
	Name       string `json:"name"`
	IsRequired bool   `json:"is_required"`
	IsKnown    bool   `json:"is_known"`
}

type lndInfo struct {
	IdentityPubkey    string                `json:"identity_pubkey"`
	Version           string                `json:"version"`
	BlockHeight       int                   `json:"block_height"`
	SyncedToChain     bool                  `json:"synced_to_chain"`
	NumActiveChannels int                   `json:"num_active_channels"`
	NumPeers          int                   `json:"num_peers"`
	Features          map[string]lndFeature `json:"features"`
}

type lndPeer struct {
	PubKey   string                `json:"pub_key"`
	Address  string                `json:"address"`
	Inbound  bool                  `json:"inbound"`
	Features map[string]lndFeature `json:"features"`
}

type lndChannel struct {
	Active           bool              `json:"active"`
	RemotePubkey     string            `json:"remote_pubkey"`
	ChannelPoint     string            `json:"channel_point"`
	ChanID           string            `json:"chan_id"` // lncli prints the BOLT 2 channel_id here
	Scid             jint              `json:"scid"`    // short channel id as a number
	ScidStr          string            `json:"scid_str"`
	Capacity         jint              `json:"capacity"`
	LocalBalance     jint              `json:"local_balance"`
	RemoteBalance    jint              `json:"remote_balance"`
	CommitFee        jint              `json:"commit_fee"`
	CommitWeight     jint              `json:"commit_weight"`
	FeePerKw         jint              `json:"fee_per_kw"`
	UnsettledBalance jint              `json:"unsettled_balance"`
	PendingHTLCs     []json.RawMessage `json:"pending_htlcs"`
	Private          bool              `json:"private"`
	Initiator        bool              `json:"initiator"`
	CommitmentType   string            `json:"commitment_type"`
	LocalConstraints struct {
		CsvDelay int `json:"csv_delay"`
	} `json:"local_constraints"`
	RemoteConstraints struct {
		CsvDelay int `json:"csv_delay"`
	} `json:"remote_constraints"`
}

type lndAddedInvoice struct {
	RHash          string `json:"r_hash"`
	PaymentRequest string `json:"payment_request"`
	PaymentAddr    string `json:"payment_addr"`
}

type lndHTLCAttempt struct {
	Status  string `json:"status"`
	Failure *struct {
		Code               string `json:"code"`
		FailureSourceIndex int    `json:"failure_source_index"`
	} `json:"failure"`
}

type lndPayment struct {
	PaymentHash     string           `json:"payment_hash"`
	PaymentPreimage string           `json:"payment_preimage"`
	ValueMsat       jint             `json:"value_msat"`
	FeeMsat         jint             `json:"fee_msat"`
	Status          string           `json:"status"`
	FailureReason   string           `json:"failure_reason"`
	HTLCs           []lndHTLCAttempt `json:"htlcs"`
}

// lastFailureCode is the failure code of the payment's last failed HTLC attempt ("" if none).
func (p *lndPayment) lastFailureCode() string {
	for i := len(p.HTLCs) - 1; i >= 0; i-- {
		if f := p.HTLCs[i].Failure; f != nil {
			return f.Code
		}
	}
	return ""
}

type lndInvoice struct {
	RHash          string `json:"r_hash"`
	PaymentRequest string `json:"payment_request"`
	ValueMsat      jint   `json:"value_msat"`
	State          string `json:"state"`
	AmtPaidMsat    jint   `json:"amt_paid_msat"`
	IsKeysend      bool   `json:"is_keysend"`
	CltvExpiry     jint   `json:"cltv_expiry"`
}

type lndWalletBalance struct {
	TotalBalance       jint `json:"total_balance"`
	ConfirmedBalance   jint `json:"confirmed_balance"`
	UnconfirmedBalance jint `json:"unconfirmed_balance"`
}

type lndClosedChannel struct {
	ChannelPoint      string `json:"channel_point"`
	ClosingTxHash     string `json:"closing_tx_hash"`
	RemotePubkey      string `json:"remote_pubkey"`
	SettledBalance    jint   `json:"settled_balance"`
	TimeLockedBalance jint   `json:"time_locked_balance"`
	CloseType         string `json:"close_type"`
}

type lndPayReq struct {
	Destination string                `json:"destination"`
	PaymentHash string                `json:"payment_hash"`
	NumMsat     jint                  `json:"num_msat"`
	CltvExpiry  jint                  `json:"cltv_expiry"`
	PaymentAddr string                `json:"payment_addr"`
	Features    map[string]lndFeature `json:"features"`
}

func (l *lnd) getInfo(t testing.TB) lndInfo {
	t.Helper()
	var v lndInfo
	l.must(t, &v, "getinfo")
	return v
}

func (l *lnd) connect(t testing.TB, uri string) {
	t.Helper()
	if _, err := l.cli("connect", uri); err != nil && !strings.Contains(err.Error(), "already connected") {
		t.Fatalf("%s: %v", l.name, err)
	}
}

func (l *lnd) listPeers(t testing.TB) []lndPeer {
	t.Helper()
	var v struct {
		Peers []lndPeer `json:"peers"`
	}
	l.must(t, &v, "listpeers")
	return v.Peers
}

func (l *lnd) peer(t testing.TB, pubkey string) *lndPeer {
	t.Helper()
	for _, p := range l.listPeers(t) {
		if p.PubKey == pubkey {
			return &p
		}
	}
	return nil
}

// openChannel opens a channel of amtSat to pubkey (pushing pushSat) and returns the funding txid once
// broadcast.
func (l *lnd) openChannel(t testing.TB, pubkey string, amtSat, pushSat int64, private bool) string {
	t.Helper()
	args := []string{"openchannel", "--node_key=" + pubkey, "--local_amt=" + strconv.FormatInt(amtSat, 10),
		"--channel_type=anchors"}
	if pushSat > 0 {
		args = append(args, "--push_amt="+strconv.FormatInt(pushSat, 10))
	}
	if private {
		args = append(args, "--private")
	}
	var v struct {
		FundingTxid string `json:"funding_txid"`
	}
	l.must(t, &v, args...)
	if v.FundingTxid == "" {
		t.Fatalf("%s: openchannel returned no funding txid", l.name)
	}
	return v.FundingTxid
}

func (l *lnd) listChannelsErr() ([]lndChannel, error) {
	var v struct {
		Channels []lndChannel `json:"channels"`
	}
	err := l.cliJSON(&v, "listchannels")
	return v.Channels, err
}

func (l *lnd) listChannels(t testing.TB) []lndChannel {
	t.Helper()
	chans, err := l.listChannelsErr()
	if err != nil {
		t.Fatalf("%s: %v", l.name, err)
	}
	return chans
}

// channel returns the open channel whose funding txid is fundingTxid, or nil.
func (l *lnd) channel(t testing.TB, fundingTxid string) *lndChannel {
	t.Helper()
	for _, c := range l.listChannels(t) {
		if strings.HasPrefix(c.ChannelPoint, fundingTxid+":") {
			return &c
		}
	}
	return nil
}

// channelsWith returns the open channels with pubkey.
func (l *lnd) channelsWith(t testing.TB, pubkey string) []lndChannel {
	t.Helper()
	var out []lndChannel
	for _, c := range l.listChannels(t) {
		if c.RemotePubkey == pubkey {
			out = append(out, c)
		}
	}
	return out
}

func (l *lnd) closedChannels(t testing.TB) []lndClosedChannel {
	t.Helper()
	var v struct {
		Channels []lndClosedChannel `json:"channels"`
	}
	l.must(t, &v, "closedchannels")
	return v.Channels
}

// pendingForceClosing returns the channel points of lnd's channels that were force-closed and whose
// outputs are not all resolved yet (lnd lists them in closedchannels only afterwards).
func (l *lnd) pendingForceClosing(t testing.TB) []string {
	t.Helper()
	var v struct {
		Channels []struct {
			Channel struct {
				ChannelPoint string `json:"channel_point"`
			} `json:"channel"`
		} `json:"pending_force_closing_channels"`
	}
	l.must(t, &v, "pendingchannels")
	var out []string
	for _, c := range v.Channels {
		out = append(out, c.Channel.ChannelPoint)
	}
	return out
}

// closeChannel closes the channel at chanPoint ("txid:vout"), cooperatively or by force, and returns
// the closing txid once it was broadcast.
func (l *lnd) closeChannel(t testing.TB, chanPoint string, force bool) string {
	t.Helper()
	i := strings.LastIndexByte(chanPoint, ':')
	args := []string{"closechannel", "--funding_txid=" + chanPoint[:i], "--output_index=" + chanPoint[i+1:]}
	if force {
		args = append(args, "--force")
	}
	var v struct {
		ClosingTxid string `json:"closing_txid"`
	}
	l.must(t, &v, args...)
	return v.ClosingTxid
}

// addInvoice makes an invoice for amtMsat; cltvExpiry 0 keeps lnd's default final CLTV delta.
func (l *lnd) addInvoice(t testing.TB, amtMsat uint64, memo string, cltvExpiry int) lndAddedInvoice {
	t.Helper()
	args := []string{"addinvoice", "--amt_msat=" + strconv.FormatUint(amtMsat, 10), "--memo=" + memo}
	if cltvExpiry > 0 {
		args = append(args, "--cltv_expiry_delta="+strconv.Itoa(cltvExpiry))
	}
	var v lndAddedInvoice
	l.must(t, &v, args...)
	return v
}

// payInvoice pays a BOLT 11 invoice and returns lnd's final payment record. A payment that failed is
// returned with a nil error (its Status says FAILED); err is for lncli/transport failures. extra are
// more payinvoice flags (e.g. --outgoing_chan_id=N).
func (l *lnd) payInvoice(ctx context.Context, payReq string, extra ...string) (*lndPayment, error) {
	args := append([]string{"payinvoice", "--force", "--json", "--timeout=60s", "--pay_req=" + payReq}, extra...)
	return l.payCmd(ctx, args)
}

// keysend sends amtSat spontaneously to dest (lnd picks the preimage).
func (l *lnd) keysend(ctx context.Context, dest string, amtSat int64) (*lndPayment, error) {
	return l.payCmd(ctx, []string{"sendpayment", "--force", "--json", "--timeout=60s", "--keysend",
		"--dest=" + dest, "--amt=" + strconv.FormatInt(amtSat, 10)})
}

func (l *lnd) payCmd(ctx context.Context, args []string) (*lndPayment, error) {
	stdout, err := l.cliCtx(ctx, args...)
	var p lndPayment
	if derr := decodeLast(stdout, &p); derr != nil || p.Status == "" {
		if err == nil {
			err = fmt.Errorf("lncli %s: no payment in output %q", args[0], stdout)
		}
		return nil, err
	}
	// lncli exits non-zero for a failed payment but still prints it: that is a result, not an error.
	return &p, nil
}

func (l *lnd) lookupInvoice(t testing.TB, rhash string) lndInvoice {
	t.Helper()
	var v lndInvoice
	l.must(t, &v, "lookupinvoice", rhash)
	return v
}

func (l *lnd) listInvoices(t testing.TB) []lndInvoice {
	t.Helper()
	var v struct {
		Invoices []lndInvoice `json:"invoices"`
	}
	l.must(t, &v, "listinvoices", "--max_invoices=100000")
	return v.Invoices
}

func (l *lnd) listPayments(t testing.TB) []lndPayment {
	t.Helper()
	var v struct {
		Payments []lndPayment `json:"payments"`
	}
	l.must(t, &v, "listpayments", "--include_incomplete", "--max_payments=100000")
	return v.Payments
}

func (l *lnd) walletBalance(t testing.TB) lndWalletBalance {
	t.Helper()
	var v lndWalletBalance
	l.must(t, &v, "walletbalance")
	return v
}

func (l *lnd) newAddress(t testing.TB) string {
	t.Helper()
	var v struct {
		Address string `json:"address"`
	}
	l.must(t, &v, "newaddress", "p2wkh")
	return v.Address
}

func (l *lnd) decodePayReq(t testing.TB, payReq string) lndPayReq {
	t.Helper()
	var v lndPayReq
	l.must(t, &v, "decodepayreq", payReq)
	return v
}

// estimateFeePerKw is lnd's current fee estimate for a confirmation target, in sat/kw.
func (l *lnd) estimateFeePerKw(t testing.TB, target int) int64 {
	t.Helper()
	var v struct {
		SatPerKw jint `json:"sat_per_kw"`
	}
	l.must(t, &v, "wallet", "estimatefeerate", strconv.Itoa(target))
	return int64(v.SatPerKw)
}

// sendCoins pays amtSat on chain from lnd's wallet and returns the txid.
func (l *lnd) sendCoins(t testing.TB, addr string, amtSat int64) string {
	t.Helper()
	var v struct {
		Txid string `json:"txid"`
	}
	l.must(t, &v, "sendcoins", "--addr="+addr, "--amt="+strconv.FormatInt(amtSat, 10), "--force")
	return v.Txid
}

// waitRoute waits until lnd's router finds a route paying amtSat to dest: right after a channel
// becomes active, lnd's router may still see no outbound balance on it for a moment.
// extra are more queryroutes flags (e.g. --outgoing_chan_id=N).
func (l *lnd) waitRoute(t testing.TB, dest string, amtSat int64, extra ...string) {
	t.Helper()
	args := append([]string{"queryroutes", "--dest=" + dest, "--amt=" + strconv.FormatInt(amtSat, 10)}, extra...)
	waitFor(t, 30*time.Second, func() (bool, string) {
		_, err := l.cli(args...)
		return err == nil, errOf(err)
	})
}

// waitSynced waits until lnd has processed the chain up to btcd's tip.
func (l *lnd) waitSynced(t testing.TB) {
	t.Helper()
	tip := l.net.btcd.height(t)
	waitFor(t, 60*time.Second, func() (bool, string) {
		var info lndInfo
		if err := l.cliJSON(&info, "getinfo"); err != nil {
			return false, err.Error()
		}
		return info.SyncedToChain && info.BlockHeight >= tip, fmt.Sprintf("%s at %d of %d, synced %v",
			l.name, info.BlockHeight, tip, info.SyncedToChain)
	})
}

// signCompact signs sha256(msg) with lnd's node key (key family 6, index 0) through signrpc's REST
// endpoint and returns the 65-byte compact signature (recovery header byte, R, S).
func (l *lnd) signCompact(msg []byte) ([]byte, error) {
	macaroon, err := os.ReadFile(filepath.Join(l.dir, "data", "chain", "bitcoin", "regtest", "admin.macaroon"))
	if err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(filepath.Join(l.dir, "tls.cert"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("lnd tls.cert: no certificate")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body, _ := json.Marshal(map[string]any{
		"msg":         base64.StdEncoding.EncodeToString(msg),
		"key_loc":     map[string]int{"key_family": 6, "key_index": 0},
		"compact_sig": true,
	})
	req, err := http.NewRequest(http.MethodPost, "https://"+l.restAddr+"/v2/signer/signmessage", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Grpc-Metadata-macaroon", hex.EncodeToString(macaroon))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("signmessage: HTTP %d: %s", resp.StatusCode, data)
	}
	var v struct {
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	sig, err := base64.StdEncoding.DecodeString(v.Signature)
	if err != nil {
		return nil, err
	}
	if len(sig) != 65 {
		return nil, fmt.Errorf("signmessage: %d-byte signature, want 65", len(sig))
	}
	return sig, nil
}
