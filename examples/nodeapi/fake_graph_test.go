package nodeapi

// Canned graph results, every field set.
var (
	fakeGraphNode = GraphNode{NodeID: "02" + hex32('a'), Alias: "alice", Color: "#3399ff",
		Addresses: []string{"127.0.0.1:9735", "[::1]:9736"}, Features: "0a8a", LastUpdate: 1_700_000_010}
	fakeGraphChannel = GraphChannel{ShortChannelID: "812x1x0", SCID: 812<<40 | 1<<16, ChanPoint: hex32('3') + ":0",
		CapacitySat: 1_000_000, Node1: "02" + hex32('a'), Node2: "03" + hex32('c'), Features: "",
		Node1Policy: &GraphPolicy{FeeBaseMsat: 1000, FeeProportionalMillionths: 1, CLTVExpiryDelta: 80,
			HTLCMinimumMsat: 1000, HTLCMaximumMsat: 990_000_000, Disabled: false, LastUpdate: 1_700_000_011},
		Node2Policy: &GraphPolicy{FeeBaseMsat: 0, FeeProportionalMillionths: 2500, CLTVExpiryDelta: 40,
			HTLCMinimumMsat: 1, HTLCMaximumMsat: 1_000_000_000, Disabled: true, LastUpdate: 1_700_000_012},
		LastUpdate: 1_700_000_012, SpentAtHeight: 900}
	fakeGraph    = &DescribeGraphResult{Nodes: []GraphNode{fakeGraphNode}, Channels: []GraphChannel{fakeGraphChannel}}
	fakeNodeInfo = &GetNodeInfoResult{Node: fakeGraphNode, NumChannels: 1, TotalCapacitySat: 1_000_000,
		Channels: []GraphChannel{fakeGraphChannel}}
	fakeRoutes = &QueryRoutesResult{Paths: []RoutePath{{Hops: []RouteHop{
		{NodeID: "02" + hex32('a'), ShortChannelID: "800x2x1", SCID: 800<<40 | 2<<16 | 1, AmountToForwardMsat: 5_000_000,
			FeeMsat: 1005, CLTVExpiryDelta: 80, ExpiryHeight: 852},
		{NodeID: "03" + hex32('c'), ShortChannelID: "812x1x0", SCID: 812<<40 | 1<<16, AmountToForwardMsat: 5_000_000,
			FeeMsat: 0, CLTVExpiryDelta: 40, ExpiryHeight: 852},
	}, AmountMsat: 5_000_000, TotalAmountMsat: 5_001_005, TotalFeesMsat: 1005, TotalCLTVDelta: 120, TotalTimeLock: 932}},
		AmountMsat: 5_000_000, TotalAmountMsat: 5_001_005, TotalFeesMsat: 1005, TotalTimeLock: 932, BlockHeight: 812}
)

// Canned forwarding results, every field set.
var (
	fakeForwards = &ForwardingHistoryResult{Forwards: []Forward{{Timestamp: 1_700_000_100, PrevChannelID: hex32('1'),
		NextChannelID: hex32('2'), PrevShortChannelID: "800x2x1", NextShortChannelID: "812x1x0", PrevNodeID: "02" + hex32('a'),
		NextNodeID: "03" + hex32('c'), AmountInMsat: 5_001_005, AmountOutMsat: 5_000_000, FeeMsat: 1005, ClaimedOnChain: true}},
		NumForwards: 1, TotalForwards: 3, TotalAmountInMsat: 5_001_005, TotalAmountOutMsat: 5_000_000, TotalFeeMsat: 1005}
	fakePolicies = &UpdateChanPolicyResult{Updated: []ChannelPolicy{{ChannelID: hex32('2'), ShortChannelID: "812x1x0",
		NodeID: "03" + hex32('c'), BaseFeeMsat: 7, FeeRatePPM: 2500, TimeLockDelta: 144}}}
)
