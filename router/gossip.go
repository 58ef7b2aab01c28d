package router

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// Errors of the gossip layer, wrapped in the *peermanager.GossipError that HandleRoutingMessage returns
// (with the graph's ErrStaleUpdate, ErrDuplicateChannel, ErrUnknownChannel, ... for messages ignored as
// BOLT 7 says); test with errors.Is.
var (
	// ErrUnknownChain: the message names another chain (BOLT 7: "MUST ignore").
	ErrUnknownChain = errors.New("router: gossip for an unknown chain")
	// ErrInvalidSignature: a signature of the message does not verify.
	ErrInvalidSignature = errors.New("router: invalid gossip signature")
	// ErrTimestampOutOfRange: the timestamp is more than GossipConfig.MaxFutureSkew ahead of the host's
	// time (BOLT 7: "MAY discard") or older than StaleChannelAge (it would be pruned at once).
	ErrTimestampOutOfRange = errors.New("router: gossip timestamp out of range")
	// ErrUnexpectedReply: a reply_channel_range or reply_short_channel_ids_end we did not ask for, or
	// one that breaks BOLT 7's ordering of replies.
	ErrUnexpectedReply = errors.New("router: unexpected gossip query reply")
	// ErrQueryPending: a query while our reply to the peer's previous one is still being sent (BOLT 7:
	// "MAY send a warning").
	ErrQueryPending = errors.New("router: gossip query while the previous one is answered")
	// ErrInvalidQuery: a query BOLT 7 forbids (number_of_blocks 0, query_flags not one per id).
	ErrInvalidQuery = errors.New("router: invalid gossip query")
	// ErrTooManyInvalid: the peer sent GossipConfig.MaxInvalidMessages invalid messages; it is
	// disconnected.
	ErrTooManyInvalid = errors.New("router: too many invalid gossip messages")
)

// Defaults of GossipConfig.
const (
	// DefaultFlushInterval: BOLT 7, "SHOULD flush outgoing gossip messages once every 60 seconds".
	DefaultFlushInterval = 60 * time.Second
	// DefaultQueryBatchSize: short_channel_ids per query_short_channel_ids we send.
	DefaultQueryBatchSize = 2000
	// DefaultMaxSyncSCIDs bounds the unknown short_channel_ids kept from one peer's reply_channel_range
	// (mainnet has about 50,000 channels).
	DefaultMaxSyncSCIDs = 500_000
	// DefaultSyncTimeout: a peer that neither replies nor sends gossip for this long during our sync
	// with it is given up, and another peer is asked.
	DefaultSyncTimeout = 2 * time.Minute
	// DefaultMaxRelayMessages and DefaultMaxRelayBytes bound the messages waiting to be relayed;
	// beyond them the oldest are dropped (a peer that has not been sent them misses them).
	DefaultMaxRelayMessages = 20_000
	DefaultMaxRelayBytes    = 8 << 20
	// DefaultMaxInvalidMessages: invalid messages (bad signatures, broken replies) after which a peer
	// is disconnected.
	DefaultMaxInvalidMessages = 10
	// DefaultMaxFutureSkew: updates timestamped further ahead of the host's time are discarded.
	DefaultMaxFutureSkew = 24 * time.Hour
	// DefaultPruneInterval: how often TimerTick prunes stale channels from the graph (LDK: hourly).
	DefaultPruneInterval = time.Hour
	// filterSlack: our gossip_timestamp_filter starts this long before the newest timestamp we hold.
	filterSlack = 10 * time.Minute
)

// GossipConfig tunes a P2PGossipSync; zero fields take the defaults above.
type GossipConfig struct {
	// FlushInterval: relayed gossip is released to peers on the first TimerTick this long after the
	// previous release (BOLT 7's staggered broadcast).
	FlushInterval time.Duration
	// MaxSyncPeers: peers we run the initial query sync (query_channel_range, then
	// query_short_channel_ids) with at once; default 1.
	MaxSyncPeers int
	// QueryBatchSize: short_channel_ids per query_short_channel_ids (at most
	// lnwire.MaxUncompressedShortChannelIDs).
	QueryBatchSize int
	// MaxSyncSCIDs bounds the unknown short_channel_ids kept from a peer's reply_channel_range.
	MaxSyncSCIDs int
	// SyncTimeout: a sync peer silent for this long is given up.
	SyncTimeout time.Duration
	// MaxRelayMessages and MaxRelayBytes bound the relay queue shared by all peers.
	MaxRelayMessages int
	MaxRelayBytes    int
	// MaxInvalidMessages: invalid messages after which a peer is disconnected.
	MaxInvalidMessages int
	// MaxFutureSkew: updates timestamped further ahead of the host's time are discarded.
	MaxFutureSkew time.Duration
	// PruneInterval: how often TimerTick prunes stale channels (NetworkGraph.RemoveStaleChannelsAndTracking).
	PruneInterval time.Duration
}

func (c GossipConfig) withDefaults() GossipConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defD(&c.FlushInterval, DefaultFlushInterval)
	def(&c.MaxSyncPeers, 1)
	def(&c.QueryBatchSize, DefaultQueryBatchSize)
	c.QueryBatchSize = min(c.QueryBatchSize, lnwire.MaxUncompressedShortChannelIDs)
	def(&c.MaxSyncSCIDs, DefaultMaxSyncSCIDs)
	defD(&c.SyncTimeout, DefaultSyncTimeout)
	def(&c.MaxRelayMessages, DefaultMaxRelayMessages)
	def(&c.MaxRelayBytes, DefaultMaxRelayBytes)
	def(&c.MaxInvalidMessages, DefaultMaxInvalidMessages)
	defD(&c.MaxFutureSkew, DefaultMaxFutureSkew)
	defD(&c.PruneInterval, DefaultPruneInterval)
	return c
}

// P2PGossipSync is the PeerManager's routing message handler (LDK's P2PGossipSync): it checks the
// gossip peers send (chain, staleness, then signatures, then the graph's own checks), applies it to
// the NetworkGraph, keeps the signed messages to answer queries and to relay, and syncs the graph
// with peers through BOLT 7's gossip queries.
//
// Lifecycle: the host passes its time with TimerTick (call it once before connecting peers, then
// every few seconds); it releases relayed gossip every FlushInterval, gives up silent sync peers and
// prunes stale channels. Nothing happens in the background.
//
// Initial sync: with up to MaxSyncPeers peers offering gossip_queries, it sends query_channel_range
// over all blocks and then query_short_channel_ids, one batch at a time, for the channels it does
// not know; every gossip_queries peer is sent a gossip_timestamp_filter starting shortly before the
// newest timestamp held (so that updates missed while offline arrive).
//
// Serving: it answers query_channel_range, query_short_channel_ids (with query_flags) and
// gossip_timestamp_filter from the messages it holds, lazily, within the budget the PeerManager
// gives (PendingMessages), so a slow peer costs a cursor, not a copy.
//
// Our own node_announcement and channel announcements (the next step) enter through
// BroadcastAnnouncement: they are applied like any gossip and sent to every peer regardless of its
// filter (BOLT 7: "SHOULD send gossip messages as it generates them regardless of timestamp").
//
// It is safe for concurrent use. Memory: the graph, the signed messages (about 40 MB for mainnet),
// and per peer a few cursors and at most one query's ids.
type P2PGossipSync struct {
	graph *NetworkGraph
	chain chainhash.Hash
	cfg   GossipConfig
	log   *slog.Logger
	keys  keyCache
	stats gossipCounters

	mu        sync.Mutex
	now       time.Duration // host time (since the Unix epoch) of the last TimerTick; 0 before
	nextFlush time.Duration
	lastPrune time.Duration
	peers     map[[33]byte]*gossipPeer
	store     gossipStore
	relay     relayLog
	synced    bool   // a query sync completed with a peer that had full information
	newestTS  uint32 // newest channel_update or node_announcement timestamp held
}

// NewP2PGossipSync returns a gossip sync applying gossip for net's chain to graph. log may be nil.
func NewP2PGossipSync(graph *NetworkGraph, net *chaincfg.Params, cfg GossipConfig, log *slog.Logger) *P2PGossipSync {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &P2PGossipSync{graph: graph, chain: *net.GenesisHash, cfg: cfg.withDefaults(), log: log,
		peers: make(map[[33]byte]*gossipPeer)}
	s.store.init()
	s.relay.maxMsgs, s.relay.maxBytes = s.cfg.MaxRelayMessages, s.cfg.MaxRelayBytes
	s.keys.m = make(map[[33]byte]*btcec.PublicKey)
	s.newestTS = graph.newestTimestamp()
	return s
}

// Graph returns the graph the sync applies gossip to.
func (s *P2PGossipSync) Graph() *NetworkGraph { return s.graph }

// GossipStats counts what a P2PGossipSync has done since it was created.
type GossipStats struct {
	// Accepted messages, applied to the graph.
	ChannelAnnouncements, ChannelUpdates, NodeAnnouncements uint64
	// Ignored: stale, duplicate, for unknown channels or chains (BOLT 7's "ignore").
	Ignored uint64
	// Invalid: bad signatures and protocol violations (answered with a warning).
	Invalid uint64
	// RelayDropped: relayed messages dropped before every peer was sent them (relay queue full).
	RelayDropped uint64
	// SyncsCompleted: initial query syncs completed.
	SyncsCompleted uint64
	// SignaturesChecked: signature verifications made (a duplicate or stale message costs none).
	SignaturesChecked uint64
}

type gossipCounters struct {
	chanAnn, chanUpd, nodeAnn, ignored, invalid, relayDropped, syncs, sigs atomic.Uint64
}

// Stats returns the counters.
func (s *P2PGossipSync) Stats() GossipStats {
	c := &s.stats
	return GossipStats{ChannelAnnouncements: c.chanAnn.Load(), ChannelUpdates: c.chanUpd.Load(),
		NodeAnnouncements: c.nodeAnn.Load(), Ignored: c.ignored.Load(), Invalid: c.invalid.Load(),
		RelayDropped: c.relayDropped.Load(), SyncsCompleted: c.syncs.Load(), SignaturesChecked: c.sigs.Load()}
}

// IsSynced reports whether an initial query sync has completed with a peer that claimed full
// information.
func (s *P2PGossipSync) IsSynced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.synced
}

// TimerTick gives the host's time (since the Unix epoch; time.Duration(time.Now().UnixNano()) in a
// host). It releases relayed gossip every FlushInterval, gives up sync peers silent for
// SyncTimeout (and asks another), and every PruneInterval prunes stale channels from the graph and
// the messages of channels the graph no longer holds.
func (s *P2PGossipSync) TimerTick(now time.Duration) {
	prune := false
	s.mu.Lock()
	s.now = now
	if now >= s.nextFlush {
		s.relay.flush()
		s.nextFlush = now + s.cfg.FlushInterval
	}
	for _, p := range s.peers {
		if p.sync != nil && now-p.sync.lastProgress > s.cfg.SyncTimeout {
			s.log.Info("gossip sync peer silent; giving up", slog.String("peer", p.short()))
			s.abandonSync(p)
		}
	}
	s.startSyncs()
	if s.lastPrune == 0 || now-s.lastPrune >= s.cfg.PruneInterval {
		s.lastPrune, prune = now, true
	}
	s.mu.Unlock()
	if prune {
		removed := s.graph.RemoveStaleChannelsAndTracking(now)
		s.mu.Lock()
		dropped := s.store.sweep(s.graph)
		s.mu.Unlock()
		if removed > 0 || dropped > 0 {
			s.log.Info("pruned stale gossip", slog.Int("channels", removed), slog.Int("messages", dropped))
		}
	}
}

// ProvidedInitFeatures advertises gossip_queries (optional): we answer queries.
func (s *P2PGossipSync) ProvidedInitFeatures(*btcec.PublicKey) *lnwire.FeatureVector {
	return lnwire.NewFeatureVector(lnwire.GossipQueriesOptional)
}

// PeerConnected registers the peer and queues our gossip_timestamp_filter (and, if the graph still
// needs a sync and fewer than MaxSyncPeers are syncing, a query_channel_range). It never refuses a
// peer.
func (s *P2PGossipSync) PeerConnected(id *btcec.PublicKey, init *lnwire.Init, _ bool) error {
	key := nodeKeyOf(id)
	queries := init != nil && init.Features != nil && init.Features.Supports(lnwire.GossipQueriesRequired)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &gossipPeer{id: key, queries: queries}
	s.peers[key] = p
	p.outbox = append(p.outbox, s.ourFilter(queries))
	s.startSyncs()
	return nil
}

// PeerDisconnected forgets the peer (and, if it was syncing us, lets another peer take over).
func (s *P2PGossipSync) PeerDisconnected(id *btcec.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := nodeKeyOf(id)
	if p := s.peers[key]; p != nil && p.sync != nil {
		p.sync = nil
	}
	delete(s.peers, key)
	s.startSyncs()
}

// HandleRoutingMessage checks and applies one gossip message from a peer (BOLT 7). It returns nil or a
// *peermanager.GossipError: GossipIgnore for what BOLT 7 says to ignore (stale, duplicate, unknown
// channel or chain), GossipWarn for invalid signatures of announcements and broken queries,
// GossipDisconnect for an invalid channel_update signature (BOLT 7: "SHOULD send a warning and close
// the connection") and for a peer past MaxInvalidMessages.
func (s *P2PGossipSync) HandleRoutingMessage(from *btcec.PublicKey, msg lnwire.Message) error {
	key := nodeKeyOf(from)
	s.mu.Lock()
	s.touch(s.peers[key])
	s.mu.Unlock()
	var err error
	switch m := msg.(type) {
	case *lnwire.ChannelAnnouncement:
		err = s.handleChannelAnnouncement(key, m)
	case *lnwire.ChannelUpdate:
		err = s.handleChannelUpdate(key, m)
	case *lnwire.NodeAnnouncement:
		err = s.handleNodeAnnouncement(key, m)
	case *lnwire.QueryChannelRange:
		err = s.handleQueryChannelRange(key, m)
	case *lnwire.ReplyChannelRange:
		err = s.handleReplyChannelRange(key, m)
	case *lnwire.QueryShortChannelIDs:
		err = s.handleQueryShortChannelIDs(key, m)
	case *lnwire.ReplyShortChannelIDsEnd:
		err = s.handleReplyShortChannelIDsEnd(key, m)
	case *lnwire.GossipTimestampFilter:
		err = s.handleTimestampFilter(key, m)
	default:
		// announcement_signatures belongs to the channel's peer (the ChannelManager); anything else
		// is not gossip.
		return nil
	}
	return s.classify(key, err)
}

// classify turns a handler error into the PeerManager's action, counting invalid messages.
func (s *P2PGossipSync) classify(key [33]byte, err error) error {
	if err == nil {
		return nil
	}
	var ge *peermanager.GossipError
	if !errors.As(err, &ge) {
		ge = &peermanager.GossipError{Action: peermanager.GossipIgnore, Err: err}
	}
	if ge.Action == peermanager.GossipIgnore {
		s.stats.ignored.Add(1)
		return ge
	}
	s.stats.invalid.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.peers[key]; p != nil {
		p.invalid++
		if p.invalid >= s.cfg.MaxInvalidMessages {
			return &peermanager.GossipError{Action: peermanager.GossipDisconnect,
				Err: errors.Join(ErrTooManyInvalid, ge.Err)}
		}
	}
	return ge
}

func warn(err error) error {
	return &peermanager.GossipError{Action: peermanager.GossipWarn, Err: err}
}

func disconnect(err error) error {
	return &peermanager.GossipError{Action: peermanager.GossipDisconnect, Err: err}
}

// gossipPeer is what the sync keeps per connected peer.
type gossipPeer struct {
	id      [33]byte
	queries bool // the peer offers gossip_queries
	invalid int

	// outbox holds our control messages (filter, queries): at most a few.
	outbox []lnwire.Message

	// What the peer asked of us.
	filter     *lnwire.GossipTimestampFilter // nil: relay nothing
	relaySeq   uint64                        // next relay entry to consider
	backfill   *backfill                     // answering its gossip_timestamp_filter
	scidReply  *scidReply                    // answering its query_short_channel_ids
	rangeReply *rangeReply                   // answering its query_channel_range

	// Our sync with the peer.
	sync     *peerSync
	syncDone bool // finished or gave up a sync with it: not asked again
}

func (p *gossipPeer) short() string {
	return shortHex(p.id[:])
}

func shortHex(b []byte) string {
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, 16)
	for _, c := range b[:min(8, len(b))] {
		out = append(out, hexdigits[c>>4], hexdigits[c&15])
	}
	return string(out)
}

func nodeKeyOf(pub *btcec.PublicKey) [33]byte {
	var k [33]byte
	if pub != nil {
		copy(k[:], pub.SerializeCompressed())
	}
	return k
}

// keyCache keeps parsed node keys, so a channel_update's check does not decompress one.
type keyCache struct {
	mu sync.Mutex
	m  map[[33]byte]*btcec.PublicKey
}

// maxCachedKeys bounds the cache (mainnet has about 17,000 nodes); it is cleared when full.
const maxCachedKeys = 100_000

func (c *keyCache) get(k [33]byte) (*btcec.PublicKey, error) {
	c.mu.Lock()
	pub := c.m[k]
	c.mu.Unlock()
	if pub != nil {
		return pub, nil
	}
	pub, err := btcec.ParsePubKey(k[:])
	if err != nil {
		return nil, err
	}
	c.put(k, pub)
	return pub, nil
}

func (c *keyCache) put(k [33]byte, pub *btcec.PublicKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedKeys {
		clear(c.m)
	}
	c.m[k] = pub
}
