package config

import "testing"

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if c.ChannelHandshakeConfig.OurToSelfDelay != 144 || c.ChannelHandshakeConfig.MinimumDepth != 6 ||
		!c.ChannelHandshakeConfig.NegotiateAnchorsZeroFeeHTLCTx || !c.AcceptInboundChannels {
		t.Fatalf("defaults differ from their documentation: %+v", c)
	}
}

func TestValidateRefuses(t *testing.T) {
	cases := map[string]func(*UserConfig){
		"max accepted 0":        func(c *UserConfig) { c.ChannelHandshakeConfig.OurMaxAcceptedHTLCs = 0 },
		"max accepted 484":      func(c *UserConfig) { c.ChannelHandshakeConfig.OurMaxAcceptedHTLCs = 484 },
		"dust below 354":        func(c *UserConfig) { c.ChannelHandshakeConfig.OurDustLimitSat = 353 },
		"in-flight 0%":          func(c *UserConfig) { c.ChannelHandshakeConfig.MaxInboundHTLCValueInFlightPercent = 0 },
		"in-flight 101%":        func(c *UserConfig) { c.ChannelHandshakeConfig.MaxInboundHTLCValueInFlightPercent = 101 },
		"to_self_delay 0":       func(c *UserConfig) { c.ChannelHandshakeConfig.OurToSelfDelay = 0 },
		"zero-conf not offered": func(c *UserConfig) { c.ChannelHandshakeConfig.MinimumDepth = 0 },
	}
	for name, mutate := range cases {
		c := Default()
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
