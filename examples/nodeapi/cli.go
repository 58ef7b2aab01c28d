package nodeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Command describes one command of the command-line form of the API (RunCLI).
type Command struct {
	Name    string // e.g. "openchannel"
	Args    string // argument synopsis, e.g. "<node_id> <amount_sat> [push_msat] [--private]"
	Summary string // one line
}

// cliCommand is a Command with its parser.
type cliCommand struct {
	Command
	minArgs, maxArgs int
	// flags are the allowed flags, without the leading dashes; a name ending in "=" takes a value
	// ("--name=value" or "--name value").
	flags []string
	// build turns positional arguments and flags into a method and its params; an error is a usage
	// error.
	build func(args []string, flags cliFlags) (method string, params any, err error)
}

// cliFlags are the flags given: name → value ("" for a flag without a value).
type cliFlags map[string]string

// on reports whether the flag was given.
func (f cliFlags) on(name string) bool {
	_, ok := f[name]
	return ok
}

func simple(method string) func([]string, cliFlags) (string, any, error) {
	return func([]string, cliFlags) (string, any, error) { return method, nil, nil }
}

var cliCommands = []cliCommand{
	{Command: Command{"getinfo", "", "show the node's id, network, chain height and counts"},
		build: simple(MethodGetInfo)},
	{Command: Command{"connect", "<node_id>@<host[:port]>", "connect to a peer (also: connect <node_id> <host[:port]>; port 9735 by default)"},
		minArgs: 1, maxArgs: 2, build: buildConnect},
	{Command: Command{"listpeers", "", "list connected peers"},
		build: simple(MethodListPeers)},
	{Command: Command{"newaddress", "", "make a new on-chain wallet address"},
		build: simple(MethodNewAddress)},
	{Command: Command{"walletbalance", "", "show the on-chain wallet balance and what channels hold outside it"},
		build: simple(MethodWalletBalance)},
	{Command: Command{"listbalances", "", "list what each channel holds for us on chain, and from which height"},
		build: simple(MethodListBalances)},
	{Command: Command{"openchannel", "<node_id> <amount_sat> [push_msat] [--public|--private]",
		"open a channel to a connected peer (private unless --public; see help openchannel for the smallest amount)"},
		minArgs: 2, maxArgs: 3, flags: []string{"private", "public"}, build: buildOpenChannel},
	{Command: Command{"listchannels", "", "list channels"},
		build: simple(MethodListChannels)},
	{Command: Command{"closechannel", "<channel_id> [--force]",
		"close a channel, cooperatively or (--force) unilaterally; prints the closing txid once broadcast"},
		minArgs: 1, maxArgs: 1, flags: []string{"force"}, build: buildCloseChannel},
	{Command: Command{"invoice", "<amount_msat|any> [description] [expiry_secs]", "make a BOLT 11 invoice"},
		minArgs: 1, maxArgs: 3, build: buildInvoice},
	{Command: Command{"decodeinvoice", "<bolt11>", "decode a BOLT 11 invoice"},
		minArgs: 1, maxArgs: 1, build: buildDecodeInvoice},
	{Command: Command{"payinvoice",
		"<bolt11> [amount_msat] [--amt_msat=N] [--max_parts=N] [--fee_limit_sat=N] [--timeout=SECONDS] [--no-wait] [--approval=HEX]",
		"pay a BOLT 11 invoice over the network (retrying failed paths until the timeout, default 60 s)"},
		minArgs: 1, maxArgs: 2, flags: append([]string{"no-wait", "amt_msat="}, sendFlags...), build: buildPayInvoice},
	{Command: Command{"keysend", "<node_id> <amount_msat> [--max_parts=N] [--fee_limit_sat=N] [--timeout=SECONDS] [--no-wait] [--preimage=HEX --approval=HEX]",
		"pay any reachable node without an invoice (spontaneous payment)"},
		minArgs: 2, maxArgs: 2, flags: append([]string{"no-wait", "preimage="}, sendFlags...), build: buildKeysend},
	{Command: Command{"listpayments", "", "list outgoing payments"},
		build: simple(MethodListPayments)},
	{Command: Command{"sendpayment", "<node_id> <amount_msat> <payment_hash> [payment_secret] [final_cltv_delta] [--no-wait]",
		"pay a payment hash with explicit fields (no invoice)"},
		minArgs: 3, maxArgs: 5, flags: []string{"no-wait"}, build: buildSendPayment},
	{Command: Command{"listinvoices", "", "list invoices and keysend receipts"},
		build: simple(MethodListInvoices)},
	{Command: Command{"describegraph", "", "print the network graph gossip built: nodes and channels with both policies"},
		build: simple(MethodDescribeGraph)},
	{Command: Command{"getnodeinfo", "<node_id>", "show a node of the graph with its channels and total capacity"},
		minArgs: 1, maxArgs: 1, build: buildGetNodeInfo},
	{Command: Command{"queryroutes",
		"<node_id> <amount_sat> [--final_cltv_delta=N] [--fee_limit_sat=N] [--max_paths=N]",
		"find a route paying node_id over the graph, without paying"},
		minArgs: 2, maxArgs: 2, flags: []string{"final_cltv_delta=", "fee_limit_sat=", "max_paths="}, build: buildQueryRoutes},
	{Command: Command{"forwardinghistory", "[--limit=N]", "list the payments this node forwarded (the N most recent), with totals"},
		flags: []string{"limit="}, build: buildForwardingHistory},
	{Command: Command{"updatechanpolicy",
		"[--channel_id=ID] [--base_fee_msat=N] [--fee_rate_ppm=N] [--time_lock_delta=N]",
		"set our forwarding policy of one channel (id or short channel id) or of all; fields left out are kept"},
		flags: []string{"channel_id=", "base_fee_msat=", "fee_rate_ppm=", "time_lock_delta="}, build: buildUpdateChanPolicy},
	{Command: Command{"sendcustommessage", "<node_id> <type> [hexdata]",
		"send a custom message (type 32768-65535, payload in hex) to a connected peer; replies arrive as custom_message events"},
		minArgs: 2, maxArgs: 3, build: buildSendCustomMessage},
	{Command: Command{"stop", "", "shut the node down"},
		build: simple(MethodStop)},
	{Command: Command{"events", "", "print the node's events, one JSON object a line, until interrupted"},
		build: simple("")},
	{Command: Command{"webui", "", "print a one-time URL that logs a browser on this machine in to the node's web page"},
		build: simple("")},
	{Command: Command{"help", "[command]", "show this help or a command's"}},
}

// NeedsNode reports whether RunCLI would call the node for args: false for no command, help (`help`,
// `-h`, `--help`, a command's `--help`), an unknown command and a command whose arguments do not parse.
func NeedsNode(args []string) bool {
	if len(args) == 0 {
		return false
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		return false
	}
	cmd := lookupCommand(args[0])
	if cmd == nil {
		return false
	}
	pos, _, help, err := splitArgs(args[1:], cmd.flags)
	return !help && err == nil && len(pos) >= cmd.minArgs && len(pos) <= cmd.maxArgs
}

// Commands lists the commands RunCLI accepts, in the order of the help text.
func Commands() []Command {
	out := make([]Command, len(cliCommands))
	for i, c := range cliCommands {
		out[i] = c.Command
	}
	return out
}

func lookupCommand(name string) *cliCommand {
	for i := range cliCommands {
		if cliCommands[i].Name == name {
			return &cliCommands[i]
		}
	}
	return nil
}

// maxUsageColumn is the widest synopsis that shares its line with the summary in Usage.
const maxUsageColumn = 44

// Usage returns the help text listing every command.
func Usage() string {
	var b strings.Builder
	b.WriteString("usage: <command> [arguments]\n\ncommands:\n")
	syns := make([]string, len(cliCommands))
	width := 0
	for i, c := range cliCommands {
		syns[i] = strings.TrimSpace(c.Name + " " + c.Args)
		if len(syns[i]) <= maxUsageColumn {
			width = max(width, len(syns[i]))
		}
	}
	for i, c := range cliCommands {
		if len(syns[i]) > width { // a long synopsis gets its own line, the summary the next
			fmt.Fprintf(&b, "  %s\n  %-*s  %s\n", syns[i], width, "", c.Summary)
			continue
		}
		fmt.Fprintf(&b, "  %-*s  %s\n", width, syns[i], c.Summary)
	}
	b.WriteString("\namounts are whole numbers in the unit their name gives (_sat or _msat)\n")
	return b.String()
}

// commandDetails are more lines of a command's help (help <command>), beyond its summary.
var commandDetails = map[string]string{
	"connect": `The connection counts once the handshake and init are done; a wrong node id fails at once (the
peer cannot decrypt the handshake and hangs up). The address is saved, and redialled after a restart,
only once a handshake with it succeeded; connecting to a peer already connected dials nothing.`,
	"openchannel": `The node refuses while it is not synced to the chain. The smallest channel is what the funder must
hold back before it can send anything, plus the dust limit: the commitment fee at twice the current
feerate for a commitment with two HTLCs (what the channel manager keeps aside for a fee rise), both
anchor outputs (2 x 330 sat), the channel reserve the peer requires (1% of the amount, at least 354
sat) and the dust limit (354 sat). With anchors at the fallback feerate of 2,500 sat/kw (regtest,
no fee estimates) that is 7,340 + 660 + 354 + 354 = 8,708 sat; the error of a smaller amount gives
the minimum at the current feerate. push_msat comes on top. At most 16,777,215 sat (2^24 - 1).`,
	"webui": webUIDetails,
	"sendcustommessage": `Custom messages are BOLT 1 messages of types the BOLTs leave free (32768-65535): an odd type is one
the peer may ignore, an even one it must understand or it disconnects. The payload is at most 65,533
bytes. The message is queued on the peer's connection; nothing says the peer read it. The node answers
the ping-app echo: type 32769 comes back as type 32771 with the same payload (see "events").`,
	"closechannel": `closing_txid is our commitment transaction's id for --force, or the cooperative closing
transaction's once the peers agreed on its fee (the node waits up to 10 s for that; without it if
later: listbalances and the channel_closed event follow the close).`,
}

func commandUsage(c *cliCommand) string {
	syn := c.Name
	if c.Args != "" {
		syn += " " + c.Args
	}
	out := "usage: " + syn + "\n  " + c.Summary + "\n"
	if d := commandDetails[c.Name]; d != "" {
		out += "\n  " + strings.ReplaceAll(d, "\n", "\n  ") + "\n"
	}
	return out
}

// RunCLI runs one command given as args (the command name then its arguments, without the program
// name) against client, printing results as indented JSON to stdout. It returns the exit status:
// 0 on success, 1 if the call failed (after printing "error: <message> (code N)" to stderr), 2 for a
// usage error (after printing the usage text to stderr). "help" needs no client. "events" prints
// one event a line until ctx is done (status 0) or the stream ends (status 1).
//
// NeedsNode says beforehand whether args will call the node at all: help, usage and argument errors do
// not, so a host can answer them without a running node (client may then be nil).
func RunCLI(ctx context.Context, client *Client, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, Usage())
		return 2
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		switch len(args) {
		case 1:
			fmt.Fprint(stdout, Usage())
			return 0
		case 2:
			if c := lookupCommand(args[1]); c != nil {
				fmt.Fprint(stdout, commandUsage(c))
				return 0
			}
			fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[1], Usage())
			return 2
		default:
			fmt.Fprint(stderr, commandUsage(lookupCommand("help")))
			return 2
		}
	}
	cmd := lookupCommand(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", name, Usage())
		return 2
	}
	pos, flags, help, err := splitArgs(args[1:], cmd.flags)
	if help {
		fmt.Fprint(stdout, commandUsage(cmd))
		return 0
	}
	if err == nil && (len(pos) < cmd.minArgs || len(pos) > cmd.maxArgs) {
		err = fmt.Errorf("%s takes %s", cmd.Name, argCount(cmd.minArgs, cmd.maxArgs))
	}
	var (
		method string
		params any
	)
	if err == nil {
		method, params, err = cmd.build(pos, flags)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n%s", cmd.Name, err, commandUsage(cmd))
		return 2
	}
	if client == nil {
		fmt.Fprintln(stderr, "error: no node to talk to")
		return 1
	}
	switch cmd.Name {
	case "events":
		return runEvents(ctx, client, stdout, stderr)
	case "webui":
		return runWebUI(ctx, client, stdout, stderr)
	}
	var raw json.RawMessage
	if err := client.Call(ctx, method, params, &raw); err != nil {
		printError(stderr, err)
		return 1
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		printError(stderr, err)
		return 1
	}
	out.WriteByte('\n')
	if _, err := stdout.Write(out.Bytes()); err != nil {
		printError(stderr, err)
		return 1
	}
	return 0
}

func argCount(lo, hi int) string {
	switch {
	case hi == 0:
		return "no arguments"
	case lo == hi && lo == 1:
		return "1 argument"
	case lo == hi:
		return fmt.Sprintf("%d arguments", lo)
	default:
		return fmt.Sprintf("%d to %d arguments", lo, hi)
	}
}

func printError(stderr io.Writer, err error) {
	var rpcErr *Error
	if errors.As(err, &rpcErr) {
		fmt.Fprintf(stderr, "error: %s (code %d)\n", rpcErr.Message, rpcErr.Code)
		return
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
}

func runEvents(ctx context.Context, client *Client, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := client.Events(ctx)
	if err != nil {
		printError(stderr, err)
		return 1
	}
	for ev := range events {
		b, err := json.Marshal(ev)
		if err != nil {
			continue
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
			printError(stderr, err)
			return 1
		}
	}
	if ctx.Err() != nil {
		return 0
	}
	fmt.Fprintln(stderr, "error: the event stream ended")
	return 1
}

// splitArgs separates positional arguments from flags ("--name" or "-name", anywhere; "--" ends
// flags; a flag taking a value as "--name=value" or "--name value"). help is set by -h/--help.
func splitArgs(args, allowed []string) (pos []string, flags cliFlags, help bool, err error) {
	flags = cliFlags{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if name == "h" || name == "help" {
			return nil, nil, true, nil
		}
		takesValue, ok := lookupFlag(allowed, name)
		switch {
		case !ok:
			return nil, nil, false, fmt.Errorf("unknown flag %q", a)
		case flags.on(name):
			return nil, nil, false, fmt.Errorf("flag %q given twice", a)
		case !takesValue && hasValue:
			return nil, nil, false, fmt.Errorf("flag %q takes no value", a)
		case takesValue && !hasValue:
			if i+1 >= len(args) {
				return nil, nil, false, fmt.Errorf("flag %q needs a value", a)
			}
			i++
			value = args[i]
		}
		flags[name] = value
	}
	return pos, flags, false, nil
}

// lookupFlag finds name among the allowed flags and says whether it takes a value.
func lookupFlag(allowed []string, name string) (takesValue, ok bool) {
	for _, f := range allowed {
		if f == name {
			return false, true
		}
		if f == name+"=" {
			return true, true
		}
	}
	return false, false
}

// parseUint parses a whole decimal number of at most max, naming it in errors.
func parseUint(name, s string, max uint64) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > max {
		return 0, fmt.Errorf("%s must be a whole number from 0 to %d, not %q", name, max, s)
	}
	return v, nil
}

func buildSendCustomMessage(args []string, _ cliFlags) (string, any, error) {
	t, err := parseUint("type", args[1], math.MaxUint16)
	if err != nil || t < MinCustomMessageType {
		return "", nil, fmt.Errorf("type must be a whole number from %d to 65535, not %q", MinCustomMessageType, args[1])
	}
	p := SendCustomMessageParams{Peer: args[0], Type: uint16(t)}
	if len(args) == 3 {
		p.Data = args[2]
	}
	return MethodSendCustomMessage, p, nil
}

func buildConnect(args []string, _ cliFlags) (string, any, error) {
	p := ConnectParams{NodeID: args[0]}
	if len(args) == 2 {
		p.Address = args[1]
	} else {
		id, addr, ok := strings.Cut(args[0], "@")
		if !ok || id == "" || addr == "" {
			return "", nil, errors.New("the peer must be given as <node_id>@<host:port>")
		}
		p = ConnectParams{NodeID: id, Address: addr}
	}
	if p.NodeID == "" || p.Address == "" {
		return "", nil, errors.New("node_id and address must not be empty")
	}
	return MethodConnect, p, nil
}

func buildOpenChannel(args []string, flags cliFlags) (string, any, error) {
	amt, err := parseUint("amount_sat", args[1], math.MaxInt64)
	if err != nil {
		return "", nil, err
	}
	p := OpenChannelParams{NodeID: args[0], AmountSat: int64(amt), Private: flags.on("private"), Public: flags.on("public")}
	if p.Public && p.Private {
		return "", nil, errors.New("--public and --private exclude each other")
	}
	if len(args) > 2 {
		if p.PushMsat, err = parseUint("push_msat", args[2], math.MaxUint64); err != nil {
			return "", nil, err
		}
	}
	return MethodOpenChannel, p, nil
}

func buildCloseChannel(args []string, flags cliFlags) (string, any, error) {
	return MethodCloseChannel, CloseChannelParams{ChannelID: args[0], Force: flags.on("force")}, nil
}

func buildInvoice(args []string, _ cliFlags) (string, any, error) {
	var p InvoiceParams
	if args[0] != "any" {
		var err error
		if p.AmountMsat, err = parseUint("amount_msat", args[0], math.MaxUint64); err != nil {
			return "", nil, err
		}
	}
	if len(args) > 1 {
		p.Description = args[1]
	}
	if len(args) > 2 {
		exp, err := parseUint("expiry_secs", args[2], math.MaxUint32)
		if err != nil {
			return "", nil, err
		}
		p.ExpirySecs = uint32(exp)
	}
	return MethodInvoice, p, nil
}

func buildDecodeInvoice(args []string, _ cliFlags) (string, any, error) {
	return MethodDecodeInvoice, DecodeInvoiceParams{Bolt11: args[0]}, nil
}

func buildPayInvoice(args []string, flags cliFlags) (string, any, error) {
	p := PayInvoiceParams{Bolt11: args[0], NoWait: flags.on("no-wait")}
	amt, hasFlag := flags["amt_msat"]
	switch {
	case len(args) > 1 && hasFlag:
		return "", nil, errors.New("give the amount either as amount_msat or as --amt_msat, not both")
	case len(args) > 1:
		amt = args[1]
	}
	if len(args) > 1 || hasFlag {
		var err error
		if p.AmountMsat, err = parseUint("amount_msat", amt, math.MaxUint64); err != nil {
			return "", nil, err
		}
	}
	var err error
	p.MaxParts, p.FeeLimitSat, p.TimeoutSecs, err = parseSendFlags(flags)
	if err != nil {
		return "", nil, err
	}
	p.Approval = flags["approval"]
	return MethodPayInvoice, p, nil
}

// sendFlags are the flags payinvoice and keysend share.
// approval (hex) is the user's approval for a node whose signer checks payments (lnkit-signer approve).
var sendFlags = []string{"max_parts=", "fee_limit_sat=", "timeout=", "approval="}

// parseSendFlags reads --max_parts, --fee_limit_sat and --timeout (whole seconds, or a Go duration
// such as 90s or 2m, rounded up to seconds).
func parseSendFlags(flags cliFlags) (maxParts uint32, feeLimitSat *uint64, timeoutSecs uint32, err error) {
	if v, ok := flags["max_parts"]; ok {
		n, err := parseUint("max_parts", v, math.MaxUint8)
		if err != nil {
			return 0, nil, 0, err
		}
		if n == 0 {
			return 0, nil, 0, errors.New("max_parts must be at least 1")
		}
		maxParts = uint32(n)
	}
	if v, ok := flags["fee_limit_sat"]; ok {
		limit, err := parseUint("fee_limit_sat", v, math.MaxUint64)
		if err != nil {
			return 0, nil, 0, err
		}
		feeLimitSat = &limit
	}
	if v, ok := flags["timeout"]; ok {
		if timeoutSecs, err = parseTimeout(v); err != nil {
			return 0, nil, 0, err
		}
	}
	return maxParts, feeLimitSat, timeoutSecs, nil
}

// parseTimeout reads a positive timeout: whole seconds or a Go duration, rounded up to seconds.
func parseTimeout(v string) (uint32, error) {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		if n == 0 {
			return 0, errors.New("timeout must be positive")
		}
		return uint32(n), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > time.Duration(math.MaxUint32)*time.Second {
		return 0, fmt.Errorf("timeout must be a positive number of seconds or a duration such as 90s, not %q", v)
	}
	return uint32((d + time.Second - 1) / time.Second), nil
}

func buildForwardingHistory(_ []string, flags cliFlags) (string, any, error) {
	var p ForwardingHistoryParams
	if v, ok := flags["limit"]; ok {
		n, err := parseUint("limit", v, math.MaxUint32)
		if err != nil {
			return "", nil, err
		}
		p.Limit = uint32(n)
	}
	return MethodForwardingHistory, p, nil
}

func buildUpdateChanPolicy(_ []string, flags cliFlags) (string, any, error) {
	p := UpdateChanPolicyParams{ChannelID: flags["channel_id"]}
	if flags.on("channel_id") && p.ChannelID == "" {
		return "", nil, errors.New("channel_id must not be empty")
	}
	if v, ok := flags["base_fee_msat"]; ok {
		n, err := parseUint("base_fee_msat", v, math.MaxUint32)
		if err != nil {
			return "", nil, err
		}
		b := uint32(n)
		p.BaseFeeMsat = &b
	}
	if v, ok := flags["fee_rate_ppm"]; ok {
		n, err := parseUint("fee_rate_ppm", v, math.MaxUint32)
		if err != nil {
			return "", nil, err
		}
		r := uint32(n)
		p.FeeRatePPM = &r
	}
	if v, ok := flags["time_lock_delta"]; ok {
		n, err := parseUint("time_lock_delta", v, math.MaxUint16)
		if err != nil {
			return "", nil, err
		}
		if n == 0 {
			return "", nil, errors.New("time_lock_delta must be positive")
		}
		d := uint16(n)
		p.TimeLockDelta = &d
	}
	if p.BaseFeeMsat == nil && p.FeeRatePPM == nil && p.TimeLockDelta == nil {
		return "", nil, errors.New("give at least one of --base_fee_msat, --fee_rate_ppm and --time_lock_delta")
	}
	return MethodUpdateChanPolicy, p, nil
}

func buildSendPayment(args []string, flags cliFlags) (string, any, error) {
	amt, err := parseUint("amount_msat", args[1], math.MaxUint64)
	if err != nil {
		return "", nil, err
	}
	p := SendPaymentParams{NodeID: args[0], AmountMsat: amt, PaymentHash: args[2], NoWait: flags.on("no-wait")}
	if len(args) > 3 {
		p.PaymentSecret = args[3]
	}
	if len(args) > 4 {
		d, err := parseUint("final_cltv_delta", args[4], math.MaxUint32)
		if err != nil {
			return "", nil, err
		}
		p.FinalCLTVDelta = uint32(d)
	}
	return MethodSendPayment, p, nil
}

func buildKeysend(args []string, flags cliFlags) (string, any, error) {
	amt, err := parseUint("amount_msat", args[1], math.MaxUint64)
	if err != nil {
		return "", nil, err
	}
	p := KeysendParams{NodeID: args[0], AmountMsat: amt, NoWait: flags.on("no-wait"), Approval: flags["approval"],
		Preimage: flags["preimage"]}
	p.MaxParts, p.FeeLimitSat, p.TimeoutSecs, err = parseSendFlags(flags)
	if err != nil {
		return "", nil, err
	}
	return MethodKeysend, p, nil
}
